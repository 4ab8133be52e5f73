/**
 * The ceiling for the page-load figure: a bare Express 5 hello world in its own process, answering
 * every path. Usage: node --import tsx scripts/load/hello.ts (prints "PORT <port> PID <pid>").
 */
import type { AddressInfo } from 'node:net';
import express from 'express';

const app = express();
app.use((_req, res) => { res.send('Hello World!'); });
const server = app.listen(0, '127.0.0.1', () => console.log(`PORT ${(server.address() as AddressInfo).port} PID ${process.pid}`));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
