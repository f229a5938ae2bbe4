// tests/ui_browser.js - drives Debian's headless Chromium over the DevTools
// protocol (Node's own http, net and crypto: no npm, nothing fetched) to
// watch the station page as an operator would, for tests/test_ui.c.
//
//   node ui_browser.js URL OUT_DIR TIMEOUT_S SHOT_AT [ANSWER...]
//
// Opens URL, reads what the page shows every 250 ms until the lot has
// stopped (the page's stop panel), saves a screenshot once at least SHOT_AT
// parts are on the map while the lot runs, and answers each prompt the page
// shows with the next ANSWER (typed into the field, the button clicked).
// Prints one fact per line for the C test to check:
//   sample PARTS CELLS            what the page showed, in time order
//   final_parts N / final_cells N / final_state S / final_bin BIN COUNT
//   answered ID TEXT              a prompt answered on the page
//   screenshot PATH COLOURS PASS_PIXELS
// Invariant: Chromium is killed on every way out, and the script ends by
// itself after TIMEOUT_S.
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const path = require("path");
const zlib = require("zlib");

const [url, outDir, timeoutS, shotAt, ...answers] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(outDir, "chromium-"));
const chrome = spawn("/usr/bin/chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-extensions", "--disable-background-networking",
  "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
  "--user-data-dir=" + profile, "--window-size=1280,900", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });

function finish(code) {
  try { chrome.kill("SIGKILL"); } catch (e) { /* gone */ }
  try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) { /* */ }
  process.exit(code);
}
setTimeout(() => { console.log("error timeout"); finish(3); }, Number(timeoutS) * 1000);
process.on("uncaughtException", (e) => { console.log("error " + e.message); finish(4); });

// ---- a WebSocket client, just enough for the DevTools protocol ----------
function wsConnect(wsUrl) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString("base64");
    const req = http.request(wsUrl.replace(/^ws:/, "http:"), {
      headers: { Connection: "Upgrade", Upgrade: "websocket",
                 "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13" },
    });
    req.on("error", reject);
    req.on("upgrade", (res, sock) => {
      let buf = Buffer.alloc(0), parts = [];
      const handlers = [];
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          const fin = buf[0] & 0x80, op = buf[0] & 0x0f;
          let len = buf[1] & 0x7f, off = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
          if (buf.length < off + len) return;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (op === 1 || op === 0) {
            parts.push(payload);
            if (fin) {
              const msg = JSON.parse(Buffer.concat(parts).toString("utf8"));
              parts = [];
              handlers.forEach((h) => h(msg));
            }
          }
        }
      });
      resolve({
        send(obj) {
          const data = Buffer.from(JSON.stringify(obj));
          const mask = crypto.randomBytes(4);
          let head;
          if (data.length < 126) head = Buffer.from([0x81, 0x80 | data.length]);
          else if (data.length < 65536) {
            head = Buffer.alloc(4); head[0] = 0x81; head[1] = 0x80 | 126;
            head.writeUInt16BE(data.length, 2);
          } else {
            head = Buffer.alloc(10); head[0] = 0x81; head[1] = 0x80 | 127;
            head.writeBigUInt64BE(BigInt(data.length), 2);
          }
          for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
          sock.write(Buffer.concat([head, mask, data]));
        },
        onMessage(h) { handlers.push(h); },
      });
    });
    req.end();
  });
}

function getJson(u) {
  return new Promise((resolve, reject) => {
    http.get(u, (res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => resolve(JSON.parse(body)));
    }).on("error", reject);
  });
}

// ---- PNG: colours and pass-green pixels, to know the picture is no blank --
function pngFacts(png) {
  let pos = 8, w = 0, h = 0, depth = 0, ctype = 0;
  const idat = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos), type = png.toString("ascii", pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") { w = data.readUInt32BE(0); h = data.readUInt32BE(4); depth = data[8]; ctype = data[9]; }
    if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  if (depth !== 8 || (ctype !== 2 && ctype !== 6)) return { colours: 0, pass: 0 };
  const bpp = ctype === 6 ? 4 : 3, stride = w * bpp;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const img = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? img[y * stride + x - bpp] : 0;
      const b = y > 0 ? img[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? img[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      img[y * stride + x] = v & 0xff;
    }
  }
  const colours = new Set();
  let pass = 0;
  for (let i = 0; i < img.length; i += bpp) {
    const r = img[i], g = img[i + 1], bl = img[i + 2];
    colours.add((r << 16) | (g << 8) | bl);
    if (r === 0x2c && g === 0xa0 && bl === 0x2c) pass++;
  }
  return { colours: colours.size, pass };
}

const READ = `(() => {
  const q = (id) => document.getElementById(id);
  const bins = {};
  document.querySelectorAll("#bins tr[data-bin]").forEach((tr) => {
    bins[tr.dataset.bin] = Number(tr.querySelector("td.lot").textContent);
  });
  return JSON.stringify({
    parts: Number(q("lot-parts").textContent), cells: Number(q("map").dataset.cells || 0),
    state: q("state").textContent, stopped: q("stop").classList.contains("open"),
    why: q("why").textContent, prompt: q("prompt").classList.contains("open"),
    promptId, note: q("prompt-note").textContent, bins });
})()`;

async function main() {
  const port = await new Promise((resolve) => {
    let err = "";
    chrome.stderr.on("data", (d) => {
      err += d;
      const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m) resolve(m[1]);
    });
  });
  const targets = await getJson(`http://127.0.0.1:${port}/json/list`);
  const page = targets.find((t) => t.type === "page");
  const ws = await wsConnect(page.webSocketDebuggerUrl);
  let next = 1;
  const pending = new Map();
  ws.onMessage((m) => { if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); } });
  const call = (method, params) => new Promise((resolve) => {
    const id = next++;
    pending.set(id, resolve);
    ws.send({ id, method, params: params || {} });
  });
  const evaluate = async (expr) => (await call("Runtime.evaluate", { expression: expr, returnByValue: true })).result.result.value;

  await call("Page.enable");
  await call("Page.navigate", { url });
  let shot = false, answered = 0, lastSample = "";
  const done = new Set();
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const s = JSON.parse(await evaluate(READ) || "{}");
    if (s.parts === undefined) continue;
    const line = `sample ${s.parts} ${s.cells}`;
    if (line !== lastSample) { console.log(line); lastSample = line; }
    if (!shot && !s.stopped && s.state === "running" && s.cells >= Number(shotAt)) {
      const r = await call("Page.captureScreenshot", { format: "png" });
      const png = Buffer.from(r.result.data, "base64");
      const file = path.join(outDir, "page.png");
      fs.writeFileSync(file, png);
      const f = pngFacts(png);
      console.log(`screenshot ${file} ${f.colours} ${f.pass}`);
      shot = true;
    }
    // Each prompt the page shows, once.
    if (s.prompt && answered < answers.length && !done.has(s.promptId)) {
      done.add(s.promptId);
      const a = answers[answered];
      const id = await evaluate(`(() => {
        document.getElementById("prompt-answer").value = ${JSON.stringify(a)};
        document.getElementById("prompt-send").click();
        return promptId; })()`);
      // The station's word on it (200 taken, 409 answered elsewhere).
      for (let i = 0; i < 50; i++) {
        await new Promise((res) => setTimeout(res, 100));
        const last = await evaluate(`document.getElementById("prompt").dataset.last || ""`);
        if (last.startsWith(id + " ")) {
          console.log(`answered ${answered + 1} ${a} ${last.endsWith(" 200") ? "ok" : "refused"}`);
          break;
        }
      }
      answered++;
    }
    if (s.stopped) {
      console.log(`final_parts ${s.parts}`);
      console.log(`final_cells ${s.cells}`);
      console.log(`final_state ${s.state}`);
      for (const [b, n] of Object.entries(s.bins)) console.log(`final_bin ${b} ${n}`);
      finish(0);
    }
  }
}
main();
