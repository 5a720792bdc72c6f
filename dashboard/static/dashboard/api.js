// The REST API as the dashboard pages use it: the session cookie, Django's CSRF token, JSON in
// and out, and the API's error object ({code, message, details}) thrown as an ApiError.

/** An answer of the REST API that was not a success. `code` is the API's error code
 * (docs/protocol.md, Error codes), or "network_error" when no answer came. */
export class ApiError extends Error {
  constructor(code, message, details = {}, status = 0) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
    this.status = status;
  }
}

function csrfToken() {
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

/**
 * Call the REST API. `body` is sent as JSON, or as-is when it is FormData (uploads).
 * Resolves with the parsed JSON answer (null for 204), rejects with ApiError.
 * `keepalive` lets a request outlive the page (releasing a lock on close).
 */
export async function api(method, url, body = undefined, { keepalive = false } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: payload, credentials: "same-origin", keepalive,
    });
  } catch (error) {
    throw new ApiError("network_error", "The server could not be reached. Try again.", {}, 0);
  }
  if (response.status === 204) return null;
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const error = (answer && answer.error) || {};
    throw new ApiError(
      error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status}.`,
      error.details || {},
      response.status,
    );
  }
  return answer;
}

/** "message (field: problem; field: problem)" for people. */
export function describeError(error) {
  const details = error && error.details;
  const fields = details && typeof details === "object"
    ? Object.entries(details)
      .filter(([, value]) => Array.isArray(value))
      .map(([field, value]) => `${field}: ${value.join(" ")}`)
    : [];
  const message = (error && error.message) || String(error);
  return fields.length ? `${message} (${fields.join("; ")})` : message;
}

/** The page's start-up data, rendered by the view with json_script (no inline script). */
export function pageConfig() {
  const element = document.getElementById("page-config");
  return element ? JSON.parse(element.textContent) : {};
}
