// Trains an exported page (`gpunet export-web --train`) in headless Chromium
// (WebGPU on SwiftShader) to the end of its epochs through the page's hook, prints
// its result as JSON, and with a PNG path keeps a screenshot taken SECONDS in.
// usage: node scripts/web_train.mjs WORKDIR PAGE.html [SHOT.png SECONDS]
//        (WORKDIR holds playwright-core, as scripts/web-peer.sh installs it)
import { createRequire } from "node:module";
import path from "node:path";

const [work, page, shot, at] = process.argv.slice(2);
const { chromium } = createRequire(path.join(path.resolve(work), "x.cjs"))("playwright-core");
const browser = await chromium.launch({
  executablePath: process.env.GPUNET_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update"],
});
const p = await browser.newPage({ viewport: { width: 940, height: 860 } });
await p.goto("file://" + path.resolve(page));
const adapter = await p.evaluate(() => gpunet.ready);
const t0 = Date.now();
const done = p.evaluate(() => gpunet.train());
if (shot) {
  await new Promise((r) => setTimeout(r, Number(at || 60) * 1000));
  await p.screenshot({ path: shot });
}
const result = await done;
const log = await p.evaluate(() => document.getElementById("log").textContent);
console.log(log);
console.log("RESULT " + JSON.stringify({ adapter, wall_s: (Date.now() - t0) / 1000, ...result }));
await browser.close();
