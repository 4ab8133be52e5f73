import pino from 'pino';
import type { Booted } from '../../server/boot';
import { DisposalService, DisposalInterrupted } from '../../server/disposal/disposal-service';
import type { CertificateData } from '../../server/disposal/certificate-data';

/** A stand-in certificate renderer for engine tests: the facts as text (the real PDF has its own tests). */
export async function textCertificate(data: CertificateData): Promise<Uint8Array> {
  return new TextEncoder().encode(`%PDF-1.4\n% test certificate ${data.number} ${data.fingerprint}\n`);
}

/** A disposal service on a booted portal, optionally stopping at a step the way a killed process would. */
export function disposalService(booted: Booted, stopAt?: (step: string) => void): DisposalService {
  const s = booted.services;
  return new DisposalService({
    audit: s.audit, clientKeys: s.clientKeys, storage: s.storage, outbox: s.outbox, logger: pino({ level: 'silent' }),
    config: s.config, firmName: async () => '暁社会保険労務士事務所', renderCertificate: textCertificate, checkpoint: stopAt, ledger: s.erasureLedger,
  });
}

export { DisposalInterrupted };
