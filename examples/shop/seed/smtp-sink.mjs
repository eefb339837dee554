// A tiny local SMTP sink for the demo: accepts every message on 127.0.0.1, stores it as JSON in
// a folder (one file per message, plus `latest.json`) and prints the links it contains, so the
// password-reset email ferrobase sends can be followed without a real mail server.
//
//   node seed/smtp-sink.mjs <mailbox-dir> [port]     (port 0: a free one)
//
// Prints `smtp-sink listening on smtp://127.0.0.1:<port>` once ready.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] || '/tmp/shop-mailbox';
const port = Number(process.argv[3] || 0);
fs.mkdirSync(dir, { recursive: true });
let count = 0;

function decodeQuotedPrintable(s) {
  return s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function parse(raw) {
  const split = raw.indexOf('\r\n\r\n');
  const head = split >= 0 ? raw.slice(0, split) : raw;
  let body = split >= 0 ? raw.slice(split + 4) : '';
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const enc = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (enc === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (enc === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  const links = body.match(/https?:\/\/[^\s"'<>]+/g) || [];
  return { to: headers.to, from: headers.from, subject: headers.subject, body, links };
}

const server = net.createServer((socket) => {
  socket.setEncoding('utf8');
  let buffer = '';
  let data = null; // collecting DATA
  const rcpt = [];
  const say = (line) => socket.write(`${line}\r\n`);
  say('220 shop-smtp-sink ready');
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (;;) {
      if (data !== null) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        data += buffer.slice(0, end);
        buffer = buffer.slice(end + 5);
        const msg = { receivedAt: new Date().toISOString(), envelopeTo: [...rcpt], ...parse(data.replace(/\r\n\.\./g, '\r\n.')) };
        count++;
        const file = path.join(dir, `${String(count).padStart(4, '0')}.json`);
        fs.writeFileSync(file, JSON.stringify(msg, null, 2));
        fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(msg, null, 2));
        console.log(`smtp-sink: mail to ${msg.to}: ${msg.subject}`);
        for (const l of msg.links) console.log(`smtp-sink:   link ${l}`);
        data = null;
        rcpt.length = 0;
        say('250 OK: queued');
        continue;
      }
      const nl = buffer.indexOf('\r\n');
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') {
        socket.write('250-shop-smtp-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
      } else if (verb === 'HELO') say('250 shop-smtp-sink');
      else if (verb === 'MAIL') say('250 OK');
      else if (verb === 'RCPT') {
        rcpt.push(line.slice(line.indexOf(':') + 1).trim());
        say('250 OK');
      } else if (verb === 'DATA') {
        data = '';
        say('354 End data with <CR><LF>.<CR><LF>');
      } else if (verb === 'RSET') {
        rcpt.length = 0;
        say('250 OK');
      } else if (verb === 'NOOP') say('250 OK');
      else if (verb === 'QUIT') {
        say('221 Bye');
        socket.end();
        return;
      } else say('502 Command not implemented');
    }
  });
  socket.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => {
  console.log(`smtp-sink listening on smtp://127.0.0.1:${server.address().port} (mailbox ${dir})`);
});
