import { expect } from 'chai';
import { sealCharacters } from '../../../server/disposal/certificate-pdf';

/** The certificate's seal reads top to bottom: brackets and marks in it take their vertical forms. */
describe('The seal on the certificate', () => {
  it('turns brackets upright for vertical reading and ends with 印', () => {
    expect(sealCharacters('暁社会保険労務士事務所（デモ）')!.slice(-5)).to.deep.equal(['︵', 'デ', 'モ', '︶', '印']);
    expect(sealCharacters('「みなと」税理士法人')!.slice(0, 5)).to.deep.equal(['﹁', 'み', 'な', 'と', '﹂']);
  });

  it('leaves a name without brackets as it is, drops spaces, and draws none for a name too long to read', () => {
    expect(sealCharacters('山田 労務事務所')).to.deep.equal(['山', '田', '労', '務', '事', '務', '所', '印']);
    expect(sealCharacters('長'.repeat(40))).to.equal(null);
  });
});
