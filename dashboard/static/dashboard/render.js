// Draws a canvas (docs/protocol.md, Shapes) as DOM: the editor's preview and the on-air overlay
// share it, so what the editor shows is what goes on air. Every user-supplied string goes in
// with textContent, never as HTML; positions and styles go through the CSSOM, which the
// Content-Security-Policy allows (it forbids inline style attributes and scripts).

export const DEFAULT_CANVAS_SIZE = { width: 1920, height: 1080 };

/** The canvas's native size: its background's, or 1920x1080 (a broadcast frame). */
export function canvasSize(data) {
  const background = data && data.background;
  if (background && background.width && background.height) {
    return { width: background.width, height: background.height };
  }
  return { ...DEFAULT_CANVAS_SIZE };
}

const LIST_ROW_TEXT = {
  players: (row) => `Player ${row}`,
  scores: (row) => `Player ${row} — ${Math.max(0, 40 - 4 * row)} pts`,
  placements: (row) => `${row}. Player ${row}`,
};

function applyTextStyle(node, element) {
  node.style.left = `${element.x}px`;
  node.style.top = `${element.y}px`;
  node.style.fontSize = `${element.font_size}px`;
  node.style.color = element.color;
  if (element.font_family) node.style.fontFamily = element.font_family;
  if (element.bold) node.style.fontWeight = "bold";
  if (element.italic) node.style.fontStyle = "italic";
  if (element.underline) node.style.textDecoration = "underline";
}

/** One element as a DOM node (absolutely positioned, data-element-id set). */
export function renderElement(element) {
  const node = document.createElement("div");
  node.className = `element element-${element.type}`;
  node.dataset.elementId = element.id;
  applyTextStyle(node, element);
  if (element.type === "text") {
    node.textContent = element.content;
  } else {
    // The lists are filled from match data on air; the preview shows their shape.
    const rowText = LIST_ROW_TEXT[element.type] || ((row) => `Row ${row}`);
    for (let row = 1; row <= element.preview_count; row += 1) {
      const line = document.createElement("div");
      line.className = "row";
      line.style.height = `${element.spacing}px`;
      line.textContent = rowText(row);
      node.append(line);
    }
  }
  return node;
}

/**
 * Replace `root`'s content with the drawing of `data` in one step (a new tree swapped in with
 * replaceChildren), so a viewer never sees a half-drawn update. Returns the canvas size.
 */
export function renderCanvas(root, data) {
  const size = canvasSize(data);
  const canvas = document.createElement("div");
  canvas.className = "canvas";
  canvas.style.width = `${size.width}px`;
  canvas.style.height = `${size.height}px`;
  if (data && data.background) {
    const image = document.createElement("img");
    image.className = "background";
    image.alt = "";
    image.src = data.background.image_url;
    image.width = data.background.width;
    image.height = data.background.height;
    canvas.append(image);
  }
  for (const element of (data && data.elements) || []) {
    canvas.append(renderElement(element));
  }
  root.replaceChildren(canvas);
  return size;
}
