//! A small client of the Chrome DevTools protocol over `--remote-debugging-pipe`
//! (JSON messages, NUL-terminated, on the browser's fds 3 and 4): enough to
//! open a page, evaluate script, send mouse input and take a screenshot.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Chromium, if this machine has one: `GPUNET_CHROMIUM`, else the usual names on PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GPUNET_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

pub struct Browser {
    child: Child,
    to: std::io::PipeWriter,
    from: Receiver<Value>,
    next: u64,
    /// Console messages and exceptions of the pages, for failure messages.
    pub log: Vec<String>,
    stderr: PathBuf,
    _profile: tempfile::TempDir,
}

/// One open page (a target with its flattened session).
pub struct Page {
    session: String,
}

impl Browser {
    /// Headless Chromium with WebGPU on its bundled SwiftShader.
    pub fn launch(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let stderr = profile.path().join("stderr.log");
        let (child_in, to) = std::io::pipe().unwrap();
        let (mut from_pipe, child_out) = std::io::pipe().unwrap();
        let (fd_in, fd_out) = (child_in.as_raw_fd(), child_out.as_raw_fd());
        let mut cmd = Command::new(exe);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--enable-unsafe-webgpu",
            "--use-webgpu-adapter=swiftshader",
            "--enable-unsafe-swiftshader",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--window-size=820,720",
            &format!("--user-data-dir={}", profile.path().display()),
            "about:blank",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
        // SAFETY: only async-signal-safe calls between fork and exec. The pipe ends
        // are first copied above 10, so placing them at 3 and 4 cannot clobber each
        // other; dup2 clears close-on-exec on the copies.
        unsafe {
            cmd.pre_exec(move || {
                let a = libc::fcntl(fd_in, libc::F_DUPFD, 10);
                let b = libc::fcntl(fd_out, libc::F_DUPFD, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        drop((child_in, child_out));
        let (tx, from) = channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                while let Some(end) = buf.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    let Ok(v) = serde_json::from_slice::<Value>(&msg[..end]) else { return };
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                match from_pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
        Browser { child, to, from, next: 0, log: Vec::new(), stderr, _profile: profile }
    }

    /// Sends a command and waits for its reply; Err carries the protocol's error.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).map_err(|e| format!("{method}: browser gone ({e}){}", self.tail()))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.from.recv_timeout(left).map_err(|e| format!("{method}: no reply ({e}){}", self.tail()))?;
            match m["method"].as_str() {
                Some("Runtime.consoleAPICalled") => self.log.push(format!("console: {}", m["params"]["args"])),
                Some("Runtime.exceptionThrown") => {
                    self.log.push(format!("exception: {}", m["params"]["exceptionDetails"]))
                }
                _ => {}
            }
            if m["id"].as_u64() == Some(id) {
                return match m.get("error") {
                    Some(e) => Err(format!("{method}: {e}")),
                    None => Ok(m["result"].clone()),
                };
            }
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.contains("dbus")).collect();
        format!("\nbrowser stderr (last lines):\n{}", lines[lines.len().saturating_sub(20)..].join("\n"))
    }

    /// Opens `url` in a new tab and attaches to it; `before` runs in every new
    /// document ahead of the page's own scripts.
    pub fn open(&mut self, url: &str, before: Option<&str>) -> Page {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" })).unwrap();
        let attach = json!({ "targetId": target["targetId"], "flatten": true });
        let session =
            self.call(None, "Target.attachToTarget", attach).unwrap()["sessionId"].as_str().unwrap().to_string();
        let page = Page { session };
        let s = Some(page.session.as_str());
        self.call(s, "Runtime.enable", json!({})).unwrap();
        if let Some(script) = before {
            self.call(s, "Page.enable", json!({})).unwrap();
            self.call(s, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": script })).unwrap();
        }
        self.call(s, "Page.navigate", json!({ "url": url })).unwrap();
        page
    }

    /// Evaluates `expr` in the page, awaiting a promise; the value, or the exception's text.
    pub fn eval(&mut self, page: &Page, expr: &str) -> Result<Value, String> {
        let params = json!({ "expression": expr, "awaitPromise": true, "returnByValue": true });
        let r = self.call(Some(&page.session), "Runtime.evaluate", params)?;
        match r.get("exceptionDetails") {
            Some(e) => Err(format!("{expr}: {}", e["exception"]["description"].as_str().unwrap_or(&e.to_string()))),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Polls `expr` until it is true (errors count as not yet, e.g. before the page loaded).
    pub fn wait_for(&mut self, page: &Page, expr: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.eval(page, expr);
            if r == Ok(json!(true)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for `{expr}` (last: {r:?}); page log: {:#?}",
                self.log
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A left-button mouse event at page coordinates (CSS pixels).
    pub fn mouse(&mut self, page: &Page, kind: &str, x: f64, y: f64) {
        let button = if kind == "mouseMoved" { "none" } else { "left" };
        let mut p = json!({ "type": kind, "x": x, "y": y, "button": button, "clickCount": 1 });
        if kind == "mouseMoved" {
            p["buttons"] = json!(1);
        }
        self.call(Some(&page.session), "Input.dispatchMouseEvent", p).unwrap();
    }

    /// A PNG of the page as it is shown.
    pub fn screenshot(&mut self, page: &Page) -> Vec<u8> {
        let r = self.call(Some(&page.session), "Page.captureScreenshot", json!({ "format": "png" })).unwrap();
        decode_base64(r["data"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("not base64: {e}"))
}
