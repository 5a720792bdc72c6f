// What every dashboard page does with the live client's state: the indicator in the top bar,
// and a banner when the server ends the session (log in again, no role, too many tabs).

const STATE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  polling: "live (polling)",
  offline: "offline",
};

/** Show a message in the page's banner; `kind` is "info", "warning" or "error". */
export function showBanner(text, kind = "info", { action = null } = {}) {
  const banner = document.getElementById("banner");
  if (!banner) return;
  banner.dataset.kind = kind;
  const message = document.createElement("span");
  message.textContent = text;
  banner.replaceChildren(message);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = action.label;
    button.addEventListener("click", action.onClick);
    banner.append(" ", button);
  }
  banner.hidden = false;
}

export function hideBanner() {
  const banner = document.getElementById("banner");
  if (banner) banner.hidden = true;
}

/** Wire the top bar's indicator and the fatal-close banner to `client`. */
export function showConnectionState(client) {
  const indicator = document.getElementById("connection-state");
  const render = (state) => {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = STATE_TEXT[state] || state;
  };
  render(client.state);
  client.addEventListener("state", (event) => render(event.detail.state));
  client.addEventListener("fatal", (event) => {
    const { closeCode, message } = event.detail;
    if (closeCode === 4001 || event.detail.status === 401) {
      showBanner(`${message || "Your session has ended."} Log in again to keep working.`, "error", {
        action: { label: "Log in", onClick: () => { window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`); } },
      });
    } else if (closeCode === 4029) {
      showBanner("Too many GAL Live tabs are open for your account: close one, then reload this page.", "error", {
        action: { label: "Reload", onClick: () => window.location.reload() },
      });
    } else {
      showBanner(message || "The server refused this connection.", "error");
    }
  });
  client.addEventListener("connection_error", (event) => {
    if (event.detail.code === "disconnected_by_staff") showBanner(event.detail.message, "warning");
  });
  client.addEventListener("notice", (event) => {
    if (event.detail.code === "broadcast_degraded") {
      showBanner("Live updates are delayed by a few seconds; nothing is lost.", "warning");
    } else if (event.detail.code === "broadcast_restored") {
      hideBanner();
    }
  });
}

/** "4:59" from milliseconds (never negative). */
export function formatCountdown(milliseconds) {
  const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** The overlay's URL for a graphic, creating its view key when the user may and none exists.
 * Resolves with null when there is no key and the user may not make one. */
export async function overlayUrl(api, graphicId, canEdit) {
  let answer = await api("GET", `/api/graphics/${graphicId}/view-key/`);
  if (!answer.view_key && canEdit) {
    answer = await api("POST", `/api/graphics/${graphicId}/view-key/`);
  }
  return answer.view_key ? new URL(answer.view_key.overlay_url, window.location.origin).href : null;
}

/** "Open overlay": the graphic's overlay in a new tab (making its view key when allowed). */
export async function openOverlay(api, graphicId, canEdit) {
  const url = await overlayUrl(api, graphicId, canEdit);
  if (!url) throw new Error("This graphic has no overlay key yet; an editor can make one.");
  window.open(url, "_blank", "noopener");
}

/** "Copy OBS URL": the overlay's URL to the clipboard, or shown when the browser refuses. */
export async function copyObsUrl(api, graphicId, canEdit) {
  const url = await overlayUrl(api, graphicId, canEdit);
  if (!url) throw new Error("This graphic has no overlay key yet; an editor can make one.");
  showBanner((await copyText(url)) ? "OBS URL copied." : `OBS URL: ${url}`, "info");
}

/** Copy `text` to the clipboard; resolves false when the browser refuses. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
