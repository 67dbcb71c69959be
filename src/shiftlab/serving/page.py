"""The page at ``/``: choose a file, send it to ``/predict``, see the answer rendered (a mask
over the image, class bars, a player for audio, a table of values), with ``/info`` beside
it. Plain HTML and a little JavaScript; nothing is loaded from elsewhere."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shiftlab model</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.4rem} pre{background:#f4f4f4;padding:.6rem;overflow:auto;max-height:14rem}
#result img{max-width:28rem;image-rendering:pixelated;border:1px solid #ccc}
.bar{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}
.bar span{display:inline-block;width:9rem}.bar div{background:#3b7ddd;height:.9rem}
.error{color:#b00020}
</style></head>
<body>
<h1>shiftlab model</h1>
<p id="summary">Loading the model's description...</p>
<form id="form"><input id="file" type="file" name="file">
<button id="send" type="submit">Predict</button></form>
<div id="result"></div>
<details><summary>/info</summary><pre id="info"></pre></details>
<script>
const info = fetch('info').then(r => r.json()).then(i => {
  document.getElementById('info').textContent = JSON.stringify(i, null, 2);
  document.getElementById('summary').textContent =
    `A ${i.kind} model (${i.model}); it takes ${i.accepts.join(', ')} files.`;
  document.getElementById('file').accept = i.accepts.join(',');
  return i;
});
function bars(probabilities) {
  return Object.entries(probabilities).sort((a, b) => b[1] - a[1]).map(([name, p]) =>
    `<div class="bar"><span>${name}</span><div style="width:${(p * 20).toFixed(2)}rem"></div>` +
    `${(100 * p).toFixed(1)} %</div>`).join('');
}
async function paletteMask(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width; canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d'); ctx.drawImage(bitmap, 0, 0);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const colours = [[0,0,0],[230,25,75],[60,180,75],[255,225,25],[0,130,200],[245,130,48]];
  let classes = new Set();
  for (let k = 0; k < pixels.data.length; k += 4) {
    const c = pixels.data[k]; classes.add(c);
    const rgb = colours[c % colours.length];
    pixels.data[k] = rgb[0]; pixels.data[k + 1] = rgb[1]; pixels.data[k + 2] = rgb[2];
  }
  ctx.putImageData(pixels, 0, 0);
  return [canvas.toDataURL(), classes.size];
}
document.getElementById('form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = document.getElementById('result');
  const chosen = document.getElementById('file').files[0];
  if (!chosen) { result.innerHTML = '<p class="error">Choose a file first.</p>'; return; }
  const form = new FormData(); form.append('file', chosen);
  result.textContent = 'Predicting...';
  const response = await fetch('predict', {method: 'POST', body: form});
  const type = response.headers.get('content-type') || '';
  if (!response.ok) {
    const body = await response.json();
    result.innerHTML = `<p class="error" id="error">${body.error}</p>`; return;
  }
  if (type.startsWith('image/png')) {
    const [url, count] = await paletteMask(await response.blob());
    const original = URL.createObjectURL(chosen);
    result.innerHTML = `<p id="answer">Mask: ${count} classes present.</p>` +
      `<img src="${original}" alt="input"> <img id="mask" src="${url}" alt="mask">`;
  } else if (type.startsWith('audio/')) {
    const url = URL.createObjectURL(await response.blob());
    result.innerHTML = '<p id="answer">Enhanced recording:</p>' +
      `<audio controls src="${url}"></audio>`;
  } else if (type.startsWith('application/json')) {
    const body = await response.json();
    if (body.probabilities) {
      const share = (100 * body.probability).toFixed(1);
      result.innerHTML = `<p id="answer">${body.predicted} (${share} %)</p>` +
        bars(body.probabilities);
    } else {
      result.innerHTML = `<p id="answer">Answer:</p><pre>${JSON.stringify(body, null, 2)}</pre>`;
    }
  } else {
    const url = URL.createObjectURL(await response.blob());
    result.innerHTML =
      `<p id="answer"><a download="prediction.npy" href="${url}">prediction.npy</a></p>`;
  }
});
</script>
</body></html>
"""
