// Cluster Hub: the little plain JavaScript the pages need (no bundler, no framework). The wallet is any EIP-1193
// provider, found with EIP-6963 (falling back to window.ethereum); it is only asked to sign a message the server
// wrote (personal_sign) and to send transactions the server encoded (eth_sendTransaction).
"use strict";

const csrf = () => document.body.dataset.csrf || "";
const $ = (selector, root = document) => root.querySelector(selector);

function say(element, text) { if (element) element.textContent = text; }

function alertBox(text) {
  const box = $("#alert");
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}

async function errorText(response) {
  try { const body = await response.json(); return body.error ? body.error.message : response.statusText; }
  catch (_) { return response.statusText; }
}

async function api(path, options = {}) {
  const headers = { "accept": "application/json", "x-csrf-token": csrf(), ...(options.headers || {}) };
  const response = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

// -- wallets (EIP-6963, then window.ethereum) ----------------------------------------------------------------
const announced = [];
window.addEventListener("eip6963:announceProvider", (event) => announced.push(event.detail));
window.dispatchEvent(new Event("eip6963:requestProvider"));

async function wallet() {
  await new Promise((resolve) => setTimeout(resolve, 50)); // let wallets answer the request above
  const provider = announced.length ? announced[0].provider : window.ethereum;
  if (!provider) throw new Error("No wallet found in this browser: install one, or sign in with email.");
  const [address] = await provider.request({ method: "eth_requestAccounts" });
  return { provider, address };
}

async function sendCalls(plan, status) {
  const { provider, address } = await wallet();
  const chain = parseInt(await provider.request({ method: "eth_chainId" }), 16);
  if (chain !== plan.chain_id) {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x" + plan.chain_id.toString(16) }] });
  }
  const hashes = [];
  for (const [index, call] of plan.calls.entries()) {
    say(status, `${index + 1}/${plan.calls.length}: ${call.description}: confirm in your wallet…`);
    const hash = await provider.request({
      method: "eth_sendTransaction",
      params: [{ from: address, to: call.to, data: call.data, value: call.value }],
    });
    say(status, `${index + 1}/${plan.calls.length}: ${call.description}: waiting for the receipt…`);
    for (;;) {
      const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (receipt) {
        if (receipt.status !== "0x1") throw new Error(`${call.description}: the transaction reverted (${hash})`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    hashes.push(hash);
  }
  return hashes;
}

// -- sign in with the wallet ---------------------------------------------------------------------------------
async function walletSignIn(button) {
  const status = $("#wallet-status");
  try {
    const { provider, address } = await wallet();
    say(status, "Sign the message in your wallet…");
    const { message } = await (await api(`/auth/siwe/message?address=${address}`)).json();
    const signature = await provider.request({ method: "personal_sign", params: [message, address] });
    const response = await api("/auth/siwe", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message, signature, next: button.dataset.next || "/dashboard" }),
    });
    const done = await response.json();
    say(status, `Signed in as ${done.address}`);
    window.location.assign(done.next);
  } catch (error) {
    say(status, `Sign-in failed: ${error.message}`);
  }
}

// -- money ---------------------------------------------------------------------------------------------------
function micro(text) {
  const [whole, fraction = ""] = text.trim().split(".");
  return BigInt(whole || "0") * 1000000n + BigInt((fraction + "000000").slice(0, 6));
}

async function deposit(form) {
  const status = $("#deposit-status");
  try {
    const amount = micro(form.amount.value);
    const plan = await (await api(`/v1/chain/deposits/calls?amount=${amount}`)).json();
    await sendCalls(plan, status);
    say(status, "Deposited: your balance is credited when the indexer sees it…");
    document.body.dataset.following = "1";
    document.body.dispatchEvent(new Event("deposit-sent"));
  } catch (error) {
    say(status, `Deposit failed: ${error.message}`);
  }
}

async function buy(button) {
  const status = $("#buy-status");
  try {
    const plan = await (await api(`/v1/datasets/${button.dataset.slug}/purchase/calls`)).json();
    await sendCalls(plan, status);
    say(status, "Bought: waiting for the chain to show your access…");
    for (let i = 0; i < 60; i += 1) {
      const item = await (await api(`/v1/datasets/${button.dataset.slug}`)).json();
      if (item.access === "download" || item.access === "full") { window.location.reload(); return; }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    say(status, "Bought; access has not shown yet: reload in a moment.");
  } catch (error) {
    say(status, `Purchase failed: ${error.message}`);
  }
}

// -- uploads with a real progress bar (the browser streams the file; the server spools it to disk) ----------
function upload(form) {
  const bar = $("#upload-progress");
  const status = $("#upload-status");
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/datasets");
  request.setRequestHeader("x-csrf-token", csrf());
  request.setRequestHeader("accept", "application/json");
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) { bar.max = event.total; bar.value = event.loaded; }
    say(status, `Uploading… ${Math.round((100 * event.loaded) / (event.total || 1))}%`);
  });
  request.addEventListener("load", () => {
    if (request.status === 201) {
      const item = JSON.parse(request.responseText);
      say(status, `Listed and minted: ${item.name} (NFT #${item.token_id})`);
      window.location.assign(`/datasets/${item.slug}`);
    } else {
      let message = request.statusText;
      try { message = JSON.parse(request.responseText).error.message; } catch (_) { /* not JSON */ }
      say(status, `Upload failed: ${message}`);
    }
  });
  request.addEventListener("error", () => say(status, "Upload failed: the connection broke"));
  request.send(new FormData(form));
}

// -- "try it": a streamed chat completion, billed like any call ---------------------------------------------
async function tryModel(form) {
  const output = form.nextElementSibling;
  output.textContent = "";
  try {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: form.dataset.model, stream: true, max_tokens: 64,
        messages: [{ role: "user", content: form.prompt.value }] }),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const events = pending.split("\n\n");
      pending = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.choices && chunk.choices[0]) output.textContent += chunk.choices[0].delta.content || "";
      }
    }
    output.dataset.done = "1";
  } catch (error) {
    output.textContent = `Failed: ${error.message}`;
  }
}

// -- charts: each drawn from the same JSON the page's table shows -------------------------------------------
const PALETTE = ["#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00897b", "#6d4c41", "#3949ab"];

function barChart(canvas, labels, datasets, stacked = true) {
  if (!canvas || !window.Chart) return;
  if (canvas.chart) canvas.chart.destroy();
  canvas.chart = new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets: datasets.map((d, i) => ({ backgroundColor: PALETTE[i % PALETTE.length], ...d })) },
    options: { animation: false, responsive: true, scales: { x: { stacked }, y: { stacked, beginAtZero: true } } },
  });
}

function lineChart(canvas, labels, datasets) {
  if (!canvas || !window.Chart) return;
  if (canvas.chart) canvas.chart.destroy();
  canvas.chart = new window.Chart(canvas, {
    type: "line",
    data: { labels, datasets: datasets.map((d, i) => ({ borderColor: PALETTE[i % PALETTE.length], ...d })) },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: false } } },
  });
}

function drawCharts(root = document) {
  const usage = $("#usage-data", root);
  if (usage) {
    const data = JSON.parse(usage.textContent);
    barChart($("#calls-chart"), data.labels, data.series.map((s) => ({ label: s.name, data: s.calls })));
    barChart($("#tokens-chart"), data.labels, data.series.map((s) => ({ label: s.name, data: s.tokens })));
  }
  const spend = $("#spend-data", root);
  if (spend) {
    const data = JSON.parse(spend.textContent);
    barChart($("#spend-chart"), data.labels, [{ label: "µUSDC", data: data.cost }]);
  }
  const earnings = $("#earnings-data", root);
  if (earnings) {
    const data = JSON.parse(earnings.textContent);
    barChart($("#earnings-chart"), data.labels, data.series);
  }
  const loss = $("#loss-data");
  if (loss) {
    const data = JSON.parse(loss.textContent);
    lineChart($("#loss-chart"), data.steps, [
      { label: "train loss", data: data.train },
      { label: "validation loss", data: data.valid, spanGaps: true },
    ]);
  }
}

// -- wiring --------------------------------------------------------------------------------------------------
document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.id === "wallet-sign-in") walletSignIn(target);
  else if (target.id === "buy") buy(target);
  else if (target.dataset.copy) navigator.clipboard && navigator.clipboard.writeText($(target.dataset.copy).textContent);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  const handlers = { deposit, upload };
  if (handlers[form.id]) { event.preventDefault(); handlers[form.id](form); }
  else if (form.classList.contains("try")) { event.preventDefault(); tryModel(form); }
});

document.addEventListener("htmx:responseError", (event) => alertBox(event.detail.xhr.responseText || "Something went wrong"));
document.addEventListener("htmx:beforeRequest", () => alertBox(""));
document.addEventListener("htmx:afterSwap", () => drawCharts());
window.addEventListener("load", () => drawCharts());

document.addEventListener("click", async (event) => {
  const button = event.target.closest("#approve-operator");
  if (!button) return;
  const status = $("#operator-status");
  try {
    await sendCalls(await (await api("/v1/creators/me/operator-calls")).json(), status);
    say(status, "Approved: Cluster can now change prices and retire for you.");
  } catch (error) {
    say(status, `Approval failed: ${error.message}`);
  }
});
