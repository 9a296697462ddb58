// scripts/web-peer.sh's driver: one headless Chromium (WebGPU on SwiftShader),
// gpunet's training pages and TensorFlow.js's webgpu and webgl backends training
// the same nets at the same batch, images/s side by side.
// usage: node scripts/web_peer.mjs WORKDIR   (WORKDIR holds node_modules and the pages)
import { createRequire } from "node:module";
import path from "node:path";

const work = path.resolve(process.argv[2]);
const { chromium } = createRequire(path.join(work, "peer.cjs"))("playwright-core");
const browser = await chromium.launch({
  executablePath: process.env.GPUNET_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update"],
});
// timed steps after one warm-up step: a cnn6 step of TF.js takes about a minute here
const nets = [["mlp", 500, 4], ["cnn6", 100, 2]];
const rows = [];
for (const [net, batch, steps] of nets) {
  const row = { net, batch, steps };
  const page = await browser.newPage();
  await page.goto(`file://${work}/gpunet-${net}.html`);
  row.adapter = await page.evaluate(() => gpunet.ready);
  await page.evaluate(() => gpunet.train({ epochs: 1, steps: 1 }));
  const t0 = Date.now();
  await page.evaluate((n) => gpunet.train({ epochs: 1, steps: n }), steps);
  row.gpunet = (steps * batch) / ((Date.now() - t0) / 1000);
  await page.close();
  for (const backend of ["webgpu", "webgl"]) {
    const p = await browser.newPage();
    await p.goto(`file://${work}/web-peer.html`);
    const r = await p.evaluate(([b, n, bs, st]) => window.bench(b, n, bs, st), [backend, net, batch, steps]);
    row[`tfjs_${r.backend}`] = r.images_per_s;
    await p.close();
  }
  row.ratio_vs_faster_tfjs = row.gpunet / Math.max(row.tfjs_webgpu, row.tfjs_webgl);
  rows.push(row);
  console.log(`${net.padEnd(5)} batch ${String(batch).padStart(3)}: gpunet page ${row.gpunet.toFixed(1)} images/s, ` +
    `TF.js webgpu ${row.tfjs_webgpu.toFixed(1)}, webgl ${row.tfjs_webgl.toFixed(1)}; ` +
    `gpunet / faster TF.js ${row.ratio_vs_faster_tfjs.toFixed(2)}x (${row.adapter})`);
}
console.log("RESULT " + JSON.stringify(rows));
await browser.close();
