// scripts/web-peer.sh's driver: one headless Chromium (WebGPU on SwiftShader),
// gpunet's training pages and TensorFlow.js's webgpu and webgl backends training
// the same nets at the same batch, images/s side by side; then the adapter's
// compute ceiling (scripts/web-ceiling.html) beside what the mlp's images/s
// mean in GFLOP/s, so the ratio the issue asks for can be weighed against it.
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
// the mlp's training work per image: forward and weight-gradient products of every
// layer, input-gradient products of all but the first
const dims = [784, 1024, 512, 256, 128, 32, 10];
const macs = dims.slice(1).map((n, i) => n * dims[i]);
const mlpFlops = 2 * (2 * macs.reduce((a, b) => a + b) + macs.slice(1).reduce((a, b) => a + b));
const page = await browser.newPage();
await page.goto(`file://${work}/web-ceiling.html`);
const ceiling = await page.evaluate(() => window.ceiling());
await page.close();
const mlp = rows.find((r) => r.net === "mlp");
const gf = (ips) => (ips * mlpFlops) / 1e9;
ceiling.mlp_mflop_per_image = mlpFlops / 1e6;
ceiling.mlp_gflops = { gpunet: gf(mlp.gpunet), tfjs_webgpu: gf(mlp.tfjs_webgpu), tfjs_webgl: gf(mlp.tfjs_webgl),
  twice_faster_tfjs: 2 * gf(Math.max(mlp.tfjs_webgpu, mlp.tfjs_webgl)) };
console.log(`ceiling: register FMAs alone ${ceiling.alu_gflops.toFixed(2)} GFLOP/s, the best WGSL GEMM (512³) ` +
  `${ceiling.gemm_gflops.toFixed(2)}; the mlp (${ceiling.mlp_mflop_per_image.toFixed(2)} MFLOP an image) trains at ` +
  `${ceiling.mlp_gflops.gpunet.toFixed(2)} GFLOP/s in gpunet's page, ${ceiling.mlp_gflops.tfjs_webgl.toFixed(2)} in ` +
  `TF.js webgl; twice the faster TF.js is ${ceiling.mlp_gflops.twice_faster_tfjs.toFixed(2)}`);
console.log("RESULT " + JSON.stringify({ rows, ceiling }));
await browser.close();
