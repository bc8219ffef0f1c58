// vidcolor studio: the shot list, the keyframe painter, the shot preview and the render.
// Hints are kept here as a hints file's content ({"hints": [...]}, vidcolor.hints) in the
// keyframe's pixel coordinates; the server re-colours and saves them.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  data: null,        // /api/shots
  key: null,         // the keyframe being painted: {file, width, height, shot, time_s}
  hints: [],
  history: [],       // earlier hints (JSON), for undo
  picture: null,     // the current colour (an ImageBitmap or Image)
  auto: null,        // the automatic picture's pixels (for "take colour")
  drawing: null,     // the stroke or eraser path under way
  busy: false,       // a re-colour in flight
  again: false,      // hints changed while it was
  opening: 0,        // which keyframe opening is the latest (an older one that finishes late is dropped)
  before: null,      // the picture before the last change (shown while "before" is held)
  showBefore: false,
  overlay: null,     // what each click reaches (an RGBA picture), when asked for
  suggested: null,   // [x, y] the studio suggests clicking next
  renderNote: null,  // the last refusal of "Render" ({text, at}), shown beside the progress a while
  version: Date.now(),
};

async function call(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function post(path, body) {
  return call(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function clock(seconds) {
  const minutes = Math.floor(Math.max(seconds, 0) / 60);
  const rest = Math.max(seconds, 0) - 60 * minutes;
  return `${minutes}:${rest.toFixed(3).padStart(6, "0")}`;
}

function say(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

function keyUrl(file, which, width) {
  const size = width ? `width=${width}&` : "";
  return `/api/keyframe/${encodeURIComponent(file)}/${which}?${size}v=${state.version}`;
}

// -- the shot list -------------------------------------------------------------------------------
async function loadShots() {
  state.data = await (await call("/api/shots")).json();
  const d = state.data;
  $("folder").textContent = d.folder;
  $("film-line").textContent = d.film ? `Film: ${d.film}; the render goes to ${d.out}`
    : d.film_missing ? `The film this folder was made from, ${d.film_missing}, is not there any more (moved?): painting and saving work; for previews and the render start the studio with --film FILM.`
    : "No film given (vidcolor-studio FOLDER --film FILM): painting and saving work; previews and the render need the film.";
  $("render").disabled = !d.film;
  const body = document.querySelector("#shots tbody");
  body.textContent = "";
  const start = d.start_s || 0;
  for (const shot of d.shots) {
    shot.keyframes.forEach((key, n) => {
      const row = document.createElement("tr");
      row.dataset.file = key.file;
      const hints = key.hints > 0 ? hintCount(key.hints) : key.hints < 0 ? "hints picture" : "no hints";
      row.innerHTML = `<td>${shot.index}${n ? ` (${n + 1})` : ""}</td>
        <td>${clock(start + shot.start_s)} - ${clock(start + shot.end_s)}<br>frame ${key.frame} at ${clock(start + key.time_s)}<br>
        <span class="hint-count"></span></td>
        <td><img class="grey" alt="grey"></td><td><img class="automatic" alt="automatic"></td>
        <td><img class="current" alt="current"></td>
        <td><button type="button" class="paint">Paint</button></td>`;
      const count = row.querySelector("span.hint-count");
      count.textContent = key.error || hints;  // text, never markup: a file's name or a reason
      if (key.error) count.className = "hint-count error";
      for (const which of ["grey", "automatic", "current"]) {
        row.querySelector(`img.${which}`).src = keyUrl(key.file, which, 240);
      }
      row.querySelector("button.paint").addEventListener("click",
        () => openKeyframe({ ...key, shot: shot.index }));
      body.appendChild(row);
    });
  }
  showRender(d.render);
}

// -- the painter ---------------------------------------------------------------------------------
const WIDE_REACH = 0.4;  // share of the keyframe a stroke changed above which the page says why
const EDITING = ["save", "undo", "clear", "preview", "suggest", "before"];  // what needs a keyframe that has opened

function editing(on) {
  for (const id of EDITING) $(id).disabled = !on;
  $("paint").classList.toggle("closed", !on);
}

async function openKeyframe(key) {
  // nothing of the keyframe open before stays: its hints must never be saved over this one's
  const opening = ++state.opening;
  state.key = null;
  state.hints = [];
  state.history = [];
  state.picture = null;
  state.auto = null;
  state.drawing = null;
  state.before = null;
  state.overlay = null;
  state.suggested = null;
  editing(false);
  $("key-name").textContent = key.file;
  $("key-time").textContent = `shot ${key.shot}, frame ${key.frame}`;
  $("editor").hidden = false;
  $("list-section").hidden = true;
  $("preview-box").hidden = true;
  const canvas = $("paint");
  canvas.width = key.width;
  canvas.height = key.height;
  canvas.getContext("2d").clearRect(0, 0, key.width, key.height);
  say("loading ...");
  try {
    const saved = await (await call(`/api/keyframe/${encodeURIComponent(key.file)}/hints`)).json();
    const auto = await loadImage(keyUrl(key.file, "automatic"));
    const picture = await loadImage(keyUrl(key.file, "current"));
    if (opening !== state.opening) return;  // another keyframe was asked for meanwhile
    const scratch = document.createElement("canvas");
    scratch.width = key.width;
    scratch.height = key.height;
    const ctx = scratch.getContext("2d");
    ctx.drawImage(auto, 0, 0, key.width, key.height);
    state.auto = ctx.getImageData(0, 0, key.width, key.height);
    state.picture = picture;
    state.hints = saved.hints || [];
    state.key = key;
    editing(true);
    draw();
    if ($("show-reach").checked) showReach();
    say(saved.note || (saved.picture_only ? "this keyframe has a hints picture (NAME.hints.png) from an image editor; painting here starts a hints file that replaces it when saved"
      : hintCount(state.hints.length)));
  } catch (error) {
    if (opening !== state.opening) return;
    say(`${key.file} did not open: ${error.message}`, true);
  }
}

function hintCount(n) { return `${n} hint${n === 1 ? "" : "s"}`; }

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`${url} did not load`));
    image.src = url;
  });
}

function draw() {
  const canvas = $("paint");
  const ctx = canvas.getContext("2d");
  const picture = state.showBefore && state.before ? state.before : state.picture;
  if (picture) ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
  if (state.showBefore) return;
  if ($("show-reach").checked && state.overlay) ctx.drawImage(state.overlay, 0, 0, canvas.width, canvas.height);
  if (state.suggested) {
    const [x, y] = state.suggested;
    const r = Math.max(12, canvas.width / 60);
    ctx.lineWidth = Math.max(2, r / 4);
    for (const [colour, grow] of [["#000", 1.15], ["#fff", 1]]) {
      ctx.strokeStyle = colour;
      ctx.beginPath();
      ctx.arc(x, y, r * grow, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
  if (!$("show-hints").checked) return;
  const all = state.drawing && state.drawing.hint ? [...state.hints, state.drawing.hint] : state.hints;
  for (const hint of all) {
    ctx.fillStyle = ctx.strokeStyle = Array.isArray(hint.color) ? `rgb(${hint.color.join(",")})` : hint.color;
    ctx.lineCap = ctx.lineJoin = "round";
    if (hint.point) {
      ctx.beginPath();
      ctx.arc(hint.point[0], hint.point[1], hint.radius || 4, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.lineWidth = hint.width || 8;
      ctx.beginPath();
      hint.stroke.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      if (hint.stroke.length === 1) ctx.lineTo(hint.stroke[0][0] + 0.01, hint.stroke[0][1]);
      ctx.stroke();
    }
  }
  if (state.drawing && state.drawing.tool === "eraser") {
    ctx.strokeStyle = "rgba(255,255,255,0.8)";
    ctx.lineWidth = size();
    ctx.beginPath();
    state.drawing.path.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
  }
}

function tool() { return document.querySelector("input[name=tool]:checked").value; }
function size() { return Number($("size").value); }

function at(event) {
  const canvas = $("paint");
  const box = canvas.getBoundingClientRect();
  const x = (event.clientX - box.left) * canvas.width / box.width;
  const y = (event.clientY - box.top) * canvas.height / box.height;
  return [Math.round(Math.min(Math.max(x, 0), canvas.width - 1)), Math.round(Math.min(Math.max(y, 0), canvas.height - 1))];
}

function remember() {
  state.history.push(JSON.stringify(state.hints));
}

function down(event) {
  if (!state.key) return;
  const point = at(event);
  const which = tool();
  $("paint").setPointerCapture(event.pointerId);
  if (which === "pick") {
    const i = 4 * (point[1] * state.auto.width + point[0]);
    const hex = [0, 1, 2].map((k) => state.auto.data[i + k].toString(16).padStart(2, "0")).join("");
    $("color").value = `#${hex}`;
    say(`colour #${hex} taken from the automatic picture`);
    return;
  }
  if (which === "point") {
    remember();
    state.hints.push({ point, color: $("color").value, radius: Math.max(1, Math.round(size() / 2)) });
    draw();
    recolor();
    return;
  }
  state.drawing = which === "stroke"
    ? { tool: which, hint: { stroke: [point], color: $("color").value, width: size() } }
    : { tool: which, path: [point] };
}

function move(event) {
  if (!state.drawing) return;
  const point = at(event);
  const path = state.drawing.hint ? state.drawing.hint.stroke : state.drawing.path;
  const last = path[path.length - 1];
  if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= 2) {
    path.push(point);
    draw();
  }
}

function near(hint, path, reach) {
  const points = hint.point ? [hint.point] : hint.stroke;
  const own = hint.point ? (hint.radius || 4) : (hint.width || 8) / 2;
  return points.some(([x, y]) => path.some(([u, v]) => Math.hypot(x - u, y - v) <= reach + own));
}

function up() {
  const drawing = state.drawing;
  if (!drawing) return;
  state.drawing = null;
  if (drawing.tool === "stroke") {
    remember();
    state.hints.push(drawing.hint);
  } else {
    const kept = state.hints.filter((hint) => !near(hint, drawing.path, size() / 2));
    if (kept.length === state.hints.length) { draw(); return; }
    remember();
    state.hints = kept;
  }
  draw();
  recolor();
}

async function recolor() {
  if (state.busy) { state.again = true; return; }
  const key = state.key;
  if (!key) return;
  state.busy = true;
  const started = performance.now();
  try {
    const response = await post(`/api/keyframe/${encodeURIComponent(key.file)}/recolor`, { hints: state.hints });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const image = await loadImage(url);
    URL.revokeObjectURL(url);
    if (state.key !== key) return;
    state.before = state.picture;
    state.picture = image;
    state.suggested = null;
    draw();
    if ($("show-reach").checked) showReach();
    const ms = Math.round(performance.now() - started);
    $("paint").dataset.recolorMs = String(ms);
    $("paint").dataset.recolored = String(Number($("paint").dataset.recolored || 0) + 1);
    const reach = Number(response.headers.get("X-Vidcolor-Reach") || 0);
    const far = reach > WIDE_REACH && !$("show-reach").checked
      ? `; the hints changed ${Math.round(100 * reach)} % of the keyframe: colour flows along its edges into everything connected to a stroke ("show what each click reaches" shows where; undo, or click the parts that should differ in their own colour)`
      : "";
    $("paint").dataset.reachShare = String(reach);
    say(`${hintCount(state.hints.length)}; re-coloured in ${ms} ms (not saved yet)${far}`);
  } catch (error) {
    say(`re-colour failed: ${error.message}`, true);
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; recolor(); }
  }
}

async function showReach() {
  const key = state.key;
  if (!key) return;
  if (!state.hints.length) { state.overlay = null; draw(); return; }
  try {
    const response = await post(`/api/keyframe/${encodeURIComponent(key.file)}/reach`, { hints: state.hints });
    const url = URL.createObjectURL(await response.blob());
    const image = await loadImage(url);
    URL.revokeObjectURL(url);
    if (state.key !== key) return;
    state.overlay = image;
    $("paint").dataset.reach = String(Number($("paint").dataset.reach || 0) + 1);
    draw();
  } catch (error) {
    say(`no reach shown: ${error.message}`, true);
  }
}

async function suggest() {
  const key = state.key;
  if (!key) return;
  say("finding where a click is most worth making ... (the first loads the model)");
  try {
    const answer = await (await post(`/api/keyframe/${encodeURIComponent(key.file)}/suggest`, { hints: state.hints })).json();
    if (state.key !== key) return;
    state.suggested = answer.point;
    draw();
    $("paint").dataset.suggested = answer.point ? answer.point.join(",") : "none";
    say(answer.point ? `suggested: click in the ring (${answer.point.join(", ")}): the middle of the largest part no click reaches where the model is unsure of the colour`
      : "no suggestion: your clicks reach every part of the keyframe");
  } catch (error) {
    say(`no suggestion: ${error.message}`, true);
  }
}

function holdBefore(on) {
  if (!state.key || state.showBefore === on) return;
  state.showBefore = on && Boolean(state.before);
  draw();
  if (on) say(state.before ? "before the last change (release to see it again)" : "nothing changed yet");
}

async function save() {
  if (!state.key) return;  // only a keyframe that opened: never another one's hints
  const key = state.key;
  try {
    const result = await (await post(`/api/keyframe/${encodeURIComponent(key.file)}/hints`, { hints: state.hints })).json();
    state.version = Date.now();
    $("paint").dataset.saved = String(Number($("paint").dataset.saved || 0) + 1);
    say(state.hints.length ? `saved ${result.saved.join(", ")}` : `no hints: removed ${result.saved.join(", ")}; the shot takes its automatic colour`);
  } catch (error) {
    say(`not saved: ${error.message}`, true);
  }
}

async function preview() {
  if (!state.key) return;
  const box = $("preview-box");
  say(`colouring a preview of shot ${state.key.shot} ... (the first loads the model)`);
  try {
    const response = await post(`/api/shot/${state.key.shot}/preview`, {});
    const img = $("preview-img");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(await response.blob());
    box.hidden = false;
    say(`preview of shot ${state.key.shot} from its saved keyframes`);
  } catch (error) {
    say(`no preview: ${error.message}`, true);
  }
}

function closeEditor() {
  state.key = null;
  state.opening++;
  editing(false);
  $("editor").hidden = true;
  $("list-section").hidden = false;
  loadShots().catch((error) => say(error.message, true));
}

// -- the render ----------------------------------------------------------------------------------
function showRender(render) {
  const status = $("render-status");
  const bar = $("render-progress");
  bar.max = Math.max(render.total, 1);
  bar.value = render.frames;
  status.className = render.state === "failed" ? "error" : "";
  status.dataset.state = render.state;
  $("render-stop").hidden = render.state !== "running";
  $("render").disabled = !(state.data && state.data.film) || render.state === "running";
  const note = state.renderNote && Date.now() - state.renderNote.at < 8000 ? ` (${state.renderNote.text})` : "";
  if (render.state === "running") status.textContent = `rendering: ${render.frames} / ${render.total} frames${note}`;
  else if (render.state === "idle") status.textContent = "";
  else status.textContent = render.message;
}

async function pollRender() {
  try {
    const render = await (await call("/api/render")).json();
    showRender(render);
    if (render.state === "running") setTimeout(pollRender, 500);
  } catch (error) {
    $("render-status").textContent = `the studio did not answer: ${error.message}`;
    $("render-status").className = "error";
  }
}

async function startRender() {
  try {
    showRender(await (await post("/api/render", {})).json());
    setTimeout(pollRender, 300);
  } catch (error) {
    // kept beside the progress for a while: the poll of a render already running would replace it at once
    state.renderNote = { text: error.message, at: Date.now() };
    $("render-status").textContent = error.message;
    $("render-status").className = "error";
    $("render-status").dataset.note = error.message;
  }
}

function setup() {
  const canvas = $("paint");
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  $("size").addEventListener("input", () => { $("size-value").textContent = $("size").value; });
  $("show-hints").addEventListener("change", draw);
  $("show-reach").addEventListener("change", () => ($("show-reach").checked ? showReach() : draw()));
  $("suggest").addEventListener("click", suggest);
  for (const [type, on] of [["pointerdown", true], ["pointerup", false], ["pointerleave", false]]) {
    $("before").addEventListener(type, () => holdBefore(on));
  }
  document.addEventListener("keyup", (event) => { if (event.key.toLowerCase() === "b") holdBefore(false); });
  const undo = () => {
    if (!state.key || !state.history.length) return;
    state.hints = JSON.parse(state.history.pop());
    draw();
    recolor();
  };
  $("undo").addEventListener("click", undo);
  document.addEventListener("keydown", (event) => {  // B held: the keyframe before the last change
    if (state.key && !event.ctrlKey && !event.metaKey && event.key.toLowerCase() === "b"
        && event.target.tagName !== "INPUT") holdBefore(true);
  });
  document.addEventListener("keydown", (event) => {  // Ctrl-Z (Cmd-Z) undoes while painting
    if (state.key && (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    }
  });
  $("clear").addEventListener("click", () => { if (!state.key) return; remember(); state.hints = []; draw(); recolor(); });
  $("save").addEventListener("click", save);
  $("preview").addEventListener("click", preview);
  $("close").addEventListener("click", closeEditor);
  $("render").addEventListener("click", startRender);
  $("render-stop").addEventListener("click", () => call("/api/render", { method: "DELETE" }).then(pollRender)
    .catch((error) => { $("render-status").textContent = error.message; $("render-status").className = "error"; }));
  loadShots().then(() => {
    if (state.data.render.state === "running") pollRender();
    document.body.dataset.ready = "1";
  }).catch((error) => { document.body.textContent = `vidcolor studio: ${error.message}`; });
}

document.addEventListener("DOMContentLoaded", setup);
