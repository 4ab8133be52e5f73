import fs from 'node:fs';
import { chromium } from 'playwright-core';
const [file, x, y, w, hh, out] = process.argv.slice(2);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
const p = await b.newPage({ viewport: { width: 2000, height: 6000 } });
await p.setContent(`<body style="margin:0"><img style="display:block" src="data:image/png;base64,${fs.readFileSync(file).toString('base64')}"></body>`);
await p.screenshot({ path: out, clip: { x: +x, y: +y, width: +w, height: +hh } });
await b.close();
