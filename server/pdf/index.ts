/** PDF documents in Japanese, and the firm's signature on them. See README.md beside this file. */
export { ReportDocument, type ReportOptions, type TableColumn, type TableSpec, type BarChartSpec, type Rgb } from './document';
export { embedJapaneseFonts, replaceMissingCharacters, fontCharacterSet, MISSING_MARK, EmbeddedFont, type JapaneseFonts } from './fonts';
export { signPdf, verifySignedPdf, pdfTextString, type SignatureMeta, type SignedPdfCheck, type VerifyOptions } from './sign-pdf';
export { signDetached, type SigningKey } from './cms-signer';
export { verifyDetached, type CmsVerification } from './cms-verify';
export { selfSignedCertificate, certificateFields, toPem, fromPem } from './certificate';
export { parsePkcs12, loadPkcs12, Pkcs12Error } from './p12';
export { PdfSigner, type PdfSignerDeps, type SignerIdentity, type IdentitySource } from './signing-identity';
