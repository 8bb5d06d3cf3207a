/** The page's HTML, CSS and script (see index.ts). */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wav2vec2 — live transcript</title>
<style>
  body { font: 18px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
  #transcript p { margin: 0.3rem 0; }
  #partial .stable { color: #444; }
  #partial .tentative { color: #999; }
  #status { color: #666; font-size: 0.9rem; }
</style>
</head>
<body>
<h1>Live transcript</h1>
<p>
  <button id="start">Start</button>
  <button id="stop" disabled>Stop</button>
  <input id="key" type="password" placeholder="API key (if the server needs one)" autocomplete="off">
  <span id="status">idle</span>
</p>
<div id="transcript"></div>
<p id="partial"></p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let ws = null, ctx = null, media = null, node = null;

function status(text) { $("status").textContent = text; }

function showPartial(m) {
  const words = m.text ? m.text.split(" ") : [];
  const el = $("partial");
  el.textContent = "";
  const stable = document.createElement("span");
  stable.className = "stable";
  stable.textContent = words.slice(0, m.stable).join(" ");
  const tentative = document.createElement("span");
  tentative.className = "tentative";
  tentative.textContent = (m.stable > 0 && words.length > m.stable ? " " : "") + words.slice(m.stable).join(" ");
  el.append(stable, tentative);
}

function showFinal(m) {
  const p = document.createElement("p");
  p.className = "final";
  p.dataset.segment = String(m.segment);
  p.textContent = m.text;
  $("transcript").append(p);
  $("partial").textContent = "";
}

async function start() {
  $("start").disabled = true;
  media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  ctx = new AudioContext();
  const protocols = ["wav2vec2-stream"];
  if ($("key").value) protocols.push("bearer." + $("key").value);
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/stream", protocols);
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "start", sampleRate: ctx.sampleRate, encoding: "f32" }));
    const source = ctx.createMediaStreamSource(media);
    // ScriptProcessor: deprecated, but one node and no module file; 4096 frames is under 0.1 s at 48 kHz.
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(new Float32Array(e.inputBuffer.getChannelData(0)).buffer);
    };
    source.connect(node);
    node.connect(ctx.destination);
    $("stop").disabled = false;
    status("listening");
  };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "partial") showPartial(m);
    else if (m.type === "final") showFinal(m);
    else if (m.type === "error") status("error " + m.code + ": " + m.message);
    else if (m.type === "ready") status("listening (" + m.model + ", " + m.sampleRate + " Hz)");
  };
  ws.onclose = (e) => {
    status(e.code === 1000 ? "stopped" : "closed: " + e.code + " " + e.reason);
    teardown();
  };
}

function teardown() {
  if (node) node.disconnect();
  if (media) media.getTracks().forEach((t) => t.stop());
  if (ctx) ctx.close();
  node = media = ctx = null;
  $("start").disabled = false;
  $("stop").disabled = true;
}

$("start").onclick = () => start().catch((err) => { status("error: " + err.message); teardown(); });
$("stop").onclick = () => {
  if (node) node.disconnect();
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
  $("stop").disabled = true;
};
</script>
</body>
</html>
`;
