// Plume sandbox: a Telegram-like chat with the bot through the local Bot API stand-in.
"use strict";

const STRINGS = {
  fr: {
    account: "Compte",
    language: "Langue",
    conversation: "Conversation avec Plume",
    composer: "Votre message à Plume (Entrée pour envoyer, / pour les commandes)",
    you: "vous",
    placeholder: "Message",
    menu: "Commandes",
    attach: "Joindre un fichier",
    send: "Envoyer",
    open: "Ouvrir",
    download: "Télécharger",
    edited: "modifié",
    bot: "bot",
    empty: "Aucun message. Envoyez /start pour commencer.",
    disconnected: "Connexion perdue, nouvelle tentative…",
    noCommands: "Le bot n'a défini aucune commande.",
    unsupported: "Bouton non pris en charge dans le bac à sable",
    failed: "Échec : ",
    replyTo: "Réponse à",
    reply: "Répondre",
    noReply: "Ne pas répondre à ce message",
    actions: {
      typing: "écrit…",
      upload_photo: "envoie une photo…",
      upload_document: "envoie un fichier…",
      find_location: "cherche un lieu…",
    },
  },
  en: {
    account: "Account",
    language: "Language",
    conversation: "Conversation with Plume",
    composer: "Your message to Plume (Enter to send, / for the commands)",
    you: "you",
    placeholder: "Message",
    menu: "Commands",
    attach: "Attach a file",
    send: "Send",
    open: "Open",
    download: "Download",
    edited: "edited",
    bot: "bot",
    empty: "No messages yet. Send /start to begin.",
    disconnected: "Connection lost, retrying…",
    noCommands: "The bot has not set any command.",
    unsupported: "Button not supported in the sandbox",
    failed: "Failed: ",
    replyTo: "Replying to",
    reply: "Reply",
    noReply: "Don't reply to this message",
    actions: {
      typing: "typing…",
      upload_photo: "sending a photo…",
      upload_document: "sending a file…",
      find_location: "looking for a place…",
    },
  },
};

const $ = (id) => document.getElementById(id);
const ui = {
  messages: $("messages"),
  list: $("message-list"),
  empty: $("empty"),
  account: $("account"),
  text: $("text"),
  composer: $("composer"),
  menu: $("command-menu"),
  menuButton: $("menu-button"),
  attach: $("attach-button"),
  file: $("file-input"),
  keyboard: $("reply-keyboard"),
  status: $("bot-status"),
  toast: $("toast"),
  modal: $("modal"),
  modalText: $("modal-text"),
  connection: $("connection"),
  replyBar: $("reply-bar"),
  replyText: $("reply-text"),
  replyCancel: $("reply-cancel"),
};

const state = {
  accounts: [],
  userId: null,
  language: "fr",
  version: -1,
  controller: null,
  commands: [],
  action: null,
  seenAnswers: new Set(),
  answersPrimed: false,
  rendered: new Map(), // message id -> {key, element}
  replyTo: null, // {id, text}: the message the next one answers (a ForceReply, or "Reply")
  declined: new Set(), // ForceReply messages the user chose not to answer
};

function t(key) {
  return (STRINGS[state.language] || STRINGS.fr)[key];
}

async function api(path, body) {
  const options = body instanceof FormData
    ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

// -- chrome -----------------------------------------------------------------------------------

function applyLanguage(language) {
  state.language = STRINGS[language] ? language : "fr";
  document.documentElement.lang = state.language;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  });
  document.querySelectorAll("[data-i18n-label]").forEach((el) => {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  });
  document.querySelectorAll(".lang-button").forEach((button) => {
    const active = button.dataset.lang === state.language;
    button.classList.toggle("active", active);
    button.setAttribute("aria-pressed", String(active));
  });
  renderStatus();
  for (const entry of state.rendered.values()) entry.key = null; // re-render localized bits
}

function renderStatus() {
  const actions = t("actions");
  ui.status.textContent = state.action ? (actions[state.action] || `${state.action}…`) : t("bot");
}

let toastTimer = null;
function showToast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 2500);
}

function showAlert(text) {
  ui.modalText.textContent = text;
  ui.modal.hidden = false;
  $("modal-ok").focus();
}
function closeAlert() {
  ui.modal.hidden = true;
  ui.text.focus();
}
$("modal-ok").addEventListener("click", closeAlert);
ui.modal.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeAlert();
});

// -- messages ---------------------------------------------------------------------------------

function formatTime(unix) {
  if (!unix) return "";
  const date = new Date(unix * 1000);
  return date.toLocaleTimeString(state.language, { hour: "2-digit", minute: "2-digit" });
}

function fileUrl(fileId, download) {
  return `/api/file/${encodeURIComponent(fileId)}${download ? "?download=1" : ""}`;
}

function formatSize(bytes) {
  const [b, kb, mb] = state.language === "fr" ? ["o", "Ko", "Mo"] : ["B", "KB", "MB"];
  if (bytes < 1024) return `${bytes} ${b}`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} ${kb}`;
  return `${(bytes / 1024 / 1024).toFixed(1)} ${mb}`;
}

function speakerOf(message) {
  if (message.from_bot) return $("bot-name").textContent || "Plume";
  return `${message.sender} (${t("you")})`;
}

function buildMessage(message) {
  // one list item per message; its speaker first, for screen readers (the bubble's side
  // says it to the eye)
  const wrapper = document.createElement("li");
  wrapper.className = `message ${message.from_bot ? "bot" : "user"}`;
  wrapper.dataset.messageId = message.id;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  const speaker = document.createElement("span");
  speaker.className = "sr-only speaker";
  speaker.textContent = `${speakerOf(message)} :`;
  bubble.append(speaker);

  if (message.reply_to) {
    const reply = document.createElement("div");
    reply.className = "reply-to";
    const who = document.createElement("b");
    who.textContent = message.reply_to.sender;
    reply.append(who, document.createElement("br"), message.reply_to.text);
    bubble.append(reply);
  }
  if (message.photo) {
    const img = document.createElement("img");
    img.className = "photo";
    img.src = fileUrl(message.photo.file_id, false);
    img.alt = message.photo.caption || "photo";
    img.addEventListener("click", () => window.open(img.src, "_blank", "noopener"));
    bubble.append(img);
  }
  if (message.document) {
    bubble.append(buildDocument(message.document));
  }
  const text = document.createElement("span");
  text.className = "text";
  text.innerHTML = message.html; // rendered and escaped by the server
  text.querySelectorAll(".spoiler").forEach((el) => {
    el.addEventListener("click", () => el.classList.add("revealed"));
  });
  bubble.append(text);
  if (message.from_bot) {
    const answer = document.createElement("button");
    answer.type = "button";
    answer.className = "reply-action";
    answer.textContent = "↩";
    answer.title = t("reply");
    answer.setAttribute("aria-label", t("reply"));
    answer.addEventListener("click", () => {
      setReplyTo({ id: message.id, text: message.text || "" });
      ui.text.focus();
    });
    bubble.append(answer);
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = (message.edited ? `${t("edited")} ` : "") + formatTime(message.date);
  bubble.append(meta);
  wrapper.append(bubble);

  if (message.buttons && message.buttons.length) {
    wrapper.append(buildInlineKeyboard(message));
  }
  return wrapper;
}

function buildDocument(document_) {
  const box = document.createElement("div");
  box.className = "document";
  const icon = document.createElement("div");
  icon.className = "doc-icon";
  icon.innerHTML =
    '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><path fill="currentColor" ' +
    'd="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5z"/></svg>';
  const info = document.createElement("div");
  const name = document.createElement("div");
  name.className = "doc-name";
  name.textContent = document_.name;
  const links = document.createElement("div");
  links.className = "doc-links";
  const open = document.createElement("a");
  open.href = fileUrl(document_.file_id, false);
  open.target = "_blank";
  open.rel = "noopener";
  open.textContent = t("open");
  const download = document.createElement("a");
  download.href = fileUrl(document_.file_id, true);
  download.download = document_.name;
  download.textContent = `${t("download")} (${formatSize(document_.size)})`;
  links.append(open, download);
  info.append(name, links);
  box.append(icon, info);
  return box;
}

function buildInlineKeyboard(message) {
  const keyboard = document.createElement("div");
  keyboard.className = "inline-keyboard";
  for (const row of message.buttons) {
    const rowEl = document.createElement("div");
    rowEl.className = "inline-row";
    for (const button of row) {
      const el = document.createElement("button");
      el.type = "button";
      el.className = `inline-button ${button.kind}`;
      el.textContent = button.text;
      if (button.kind === "callback") {
        el.dataset.callbackData = button.data;
        el.addEventListener("click", () => press(message.id, button.data, el));
      } else if (button.kind === "url") {
        el.title = button.url;
        el.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
      } else {
        el.disabled = true;
        el.title = t("unsupported");
      }
      rowEl.append(el);
    }
    keyboard.append(rowEl);
  }
  return keyboard;
}

function renderMessages(messages) {
  const nearBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
  const seen = new Set();
  let previous = null;
  let appended = false;
  for (const message of messages) {
    seen.add(message.id);
    const key = JSON.stringify(message);
    const entry = state.rendered.get(message.id);
    if (entry && entry.key === key) {
      previous = entry.element;
      continue;
    }
    const element = buildMessage(message);
    if (entry) {
      entry.element.replaceWith(element);
    } else {
      if (previous) previous.after(element);
      else ui.list.prepend(element);
      appended = true;
    }
    state.rendered.set(message.id, { key, element });
    previous = element;
  }
  for (const [id, entry] of state.rendered) {
    if (!seen.has(id)) {
      entry.element.remove();
      state.rendered.delete(id);
    }
  }
  ui.empty.hidden = messages.length > 0;
  if (appended && (nearBottom || messages.length < 3)) {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  } else if (appended) {
    const last = messages[messages.length - 1];
    if (last && !last.from_bot) ui.messages.scrollTop = ui.messages.scrollHeight;
  }
}

function renderReplyKeyboard(markup) {
  ui.keyboard.replaceChildren();
  ui.keyboard.hidden = !markup;
  if (!markup) return;
  for (const row of markup.keyboard) {
    const rowEl = document.createElement("div");
    rowEl.className = "reply-row";
    for (const button of row) {
      const label = typeof button === "string" ? button : button.text;
      const el = document.createElement("button");
      el.type = "button";
      el.className = "reply-button";
      el.textContent = label;
      el.addEventListener("click", () => {
        sendText(label);
        if (markup.one_time_keyboard) ui.keyboard.hidden = true;
      });
      rowEl.append(el);
    }
    ui.keyboard.append(rowEl);
  }
}

function renderAnswers(answers) {
  for (const answer of answers) {
    if (state.seenAnswers.has(answer.id)) continue;
    state.seenAnswers.add(answer.id);
    if (!state.answersPrimed) continue; // answers from before the page was opened
    if (answer.url) window.open(answer.url, "_blank", "noopener");
    if (!answer.text) continue;
    if (answer.show_alert) showAlert(answer.text);
    else showToast(answer.text);
  }
  state.answersPrimed = true;
}

function setReplyTo(target) {
  state.replyTo = target;
  ui.replyBar.hidden = !target;
  if (target) ui.replyText.textContent = `${t("replyTo")} Plume : ${target.text}`;
}

function render(view) {
  document.body.dataset.ready = "true"; // the account's chat is shown: one can write
  state.version = view.version;
  if (view.language_code !== state.language) applyLanguage(view.language_code);
  state.commands = view.commands || [];
  state.action = view.action;
  renderStatus();
  renderMessages(view.messages);
  renderReplyKeyboard(view.reply_keyboard);
  const forced = view.force_reply;
  if (forced && !state.declined.has(forced.id) && (!state.replyTo || state.replyTo.id !== forced.id)) {
    setReplyTo(forced); // Telegram's apps open the reply to a ForceReply by themselves
  }
  renderAnswers(view.answers || []);
  if (!ui.menu.hidden) renderMenu();
}

// -- live updates (long polling) --------------------------------------------------------------

async function pollLoop() {
  for (;;) {
    const userId = state.userId;
    const controller = new AbortController();
    state.controller = controller;
    try {
      const query = `user_id=${userId}&since=${state.version}&wait=${state.version < 0 ? 0 : 25}`;
      const response = await fetch(`/api/chat?${query}`, { signal: controller.signal });
      if (!response.ok) throw new Error(await response.text());
      const view = await response.json();
      ui.connection.hidden = true;
      if (userId === state.userId) render(view);
    } catch (error) {
      if (controller.signal.aborted) continue;
      ui.connection.hidden = false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function selectAccount(userId) {
  state.userId = userId;
  state.version = -1;
  state.seenAnswers = new Set();
  state.answersPrimed = false;
  setReplyTo(null);
  for (const entry of state.rendered.values()) entry.element.remove();
  state.rendered.clear();
  localStorage.setItem("plume-sandbox-account", String(userId));
  const account = state.accounts.find((a) => a.user_id === userId);
  if (account) applyLanguage(account.language_code);
  if (state.controller) state.controller.abort();
  api("/api/account", { user_id: userId }).catch((error) => showToast(t("failed") + error.message));
}

// -- acting -----------------------------------------------------------------------------------

async function sendText(text) {
  const trimmed = text.trim();
  if (!trimmed) return;
  try {
    const body = { user_id: state.userId, text: trimmed };
    if (state.replyTo) body.reply_to = state.replyTo.id;
    setReplyTo(null);
    await api("/api/send", body);
  } catch (error) {
    showToast(t("failed") + error.message);
  }
}

async function press(messageId, data, element) {
  element.classList.add("pending");
  try {
    await api("/api/press", { user_id: state.userId, message_id: messageId, data });
  } catch (error) {
    showToast(t("failed") + error.message);
  } finally {
    setTimeout(() => element.classList.remove("pending"), 400);
  }
}

async function upload(file) {
  const form = new FormData();
  form.append("user_id", String(state.userId));
  form.append("caption", ui.text.value.trim());
  form.append("file", file, file.name);
  ui.text.value = "";
  try {
    await api("/api/upload", form);
  } catch (error) {
    showToast(t("failed") + error.message);
  }
}

function setMenu(open) {
  ui.menu.hidden = !open;
  ui.menuButton.setAttribute("aria-expanded", String(open));
  if (open) renderMenu();
}

function menuItems() {
  return [...ui.menu.querySelectorAll("button.command-item")];
}

function renderMenu() {
  const typed = ui.text.value.startsWith("/") ? ui.text.value.slice(1).toLowerCase() : "";
  const commands = state.commands.filter((c) => c.command.startsWith(typed));
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.command : null;
  ui.menu.replaceChildren();
  if (!state.commands.length) {
    const entry = document.createElement("li");
    entry.className = "command-item";
    entry.textContent = t("noCommands");
    ui.menu.append(entry);
    return;
  }
  for (const command of commands) {
    const entry = document.createElement("li");
    const item = document.createElement("button");
    item.type = "button";
    item.className = "command-item";
    item.dataset.command = command.command;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `/${command.command}`;
    const description = document.createElement("span");
    description.className = "description";
    description.textContent = command.description;
    item.append(name, description);
    item.addEventListener("click", () => {
      setMenu(false);
      ui.text.value = "";
      sendText(`/${command.command}`);
      ui.text.focus();
    });
    entry.append(item);
    ui.menu.append(entry);
    if (command.command === focused) item.focus(); // a re-render keeps the keyboard's place
  }
  if (!commands.length) setMenu(false);
}

function updateMenuFromInput() {
  const value = ui.text.value;
  setMenu(value.startsWith("/") && !/\s/.test(value));
}

// the menu by keyboard: arrows move between the commands (from the composer too), Escape
// closes it and comes back to the composer
ui.menu.addEventListener("keydown", (event) => {
  const items = menuItems();
  const at = items.indexOf(document.activeElement);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const next = event.key === "ArrowDown" ? at + 1 : at - 1;
    if (next < 0) ui.text.focus();
    else if (items.length) items[Math.min(next, items.length - 1)].focus();
  } else if (event.key === "Escape") {
    setMenu(false);
    ui.text.focus();
  }
});

function autoGrow() {
  ui.text.style.height = "auto";
  ui.text.style.height = `${Math.min(ui.text.scrollHeight, 140)}px`;
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value;
  ui.text.value = "";
  setMenu(false);
  autoGrow();
  sendText(text);
  ui.text.focus();
});
ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  } else if (event.key === "Escape") {
    setMenu(false);
  } else if (event.key === "ArrowDown" && !ui.menu.hidden && menuItems().length) {
    event.preventDefault();
    menuItems()[0].focus();
  }
});
ui.text.addEventListener("input", () => { autoGrow(); updateMenuFromInput(); });
ui.menuButton.addEventListener("click", () => {
  setMenu(ui.menu.hidden);
  if (!ui.menu.hidden && menuItems().length) menuItems()[0].focus();
});
ui.attach.addEventListener("click", () => ui.file.click());
ui.replyCancel.addEventListener("click", () => {
  if (state.replyTo) state.declined.add(state.replyTo.id);
  setReplyTo(null);
  ui.text.focus();
});
ui.file.addEventListener("change", () => {
  if (ui.file.files.length) upload(ui.file.files[0]);
  ui.file.value = "";
});
ui.account.addEventListener("change", () => selectAccount(Number(ui.account.value)));
document.querySelectorAll(".lang-button").forEach((button) => {
  button.addEventListener("click", async () => {
    const language = button.dataset.lang;
    applyLanguage(language);
    const account = state.accounts.find((a) => a.user_id === state.userId);
    if (account) account.language_code = language;
    try {
      await api("/api/language", { user_id: state.userId, language });
    } catch (error) {
      showToast(t("failed") + error.message);
    }
  });
});

// -- start ------------------------------------------------------------------------------------

async function main() {
  const config = await (await fetch("/api/config")).json();
  state.accounts = config.accounts;
  $("bot-name").textContent = config.bot.first_name;
  $("bot-avatar").textContent = (config.bot.first_name || "?").slice(0, 1).toUpperCase();
  document.title = `${config.bot.first_name} — sandbox`;
  for (const account of config.accounts) {
    const option = document.createElement("option");
    option.value = String(account.user_id);
    option.textContent = `${account.label} — ${account.first_name}`;
    ui.account.append(option);
  }
  const stored = Number(localStorage.getItem("plume-sandbox-account"));
  const initial = config.accounts.some((a) => a.user_id === stored) ? stored : config.accounts[0].user_id;
  ui.account.value = String(initial);
  selectAccount(initial);
  ui.text.focus(); // the composer first: the keyboard starts where one writes
  pollLoop();
}

main();
