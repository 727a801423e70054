// Light and dark themes: the system's preference (prefers-color-scheme)
// until the user picks one with the toggle, which is then remembered
// (localStorage). The CSS reads html[data-theme].
import { h } from "./dom.ts";

const KEY = "corral.theme";
type Theme = "light" | "dark";
const media = matchMedia("(prefers-color-scheme: dark)");
/** The pick of this page's life, for when storage is refused. */
let picked: Theme | null = null;

function chosen(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : picked;
  } catch {
    return picked;
  }
}

export function currentTheme(): Theme {
  return chosen() ?? (media.matches ? "dark" : "light");
}

const toggles = new Set<HTMLButtonElement>();

function apply(): void {
  const t = currentTheme();
  document.documentElement.dataset.theme = t;
  for (const b of toggles) b.setAttribute("aria-pressed", String(t === "dark"));
}

export function initTheme(): void {
  apply();
  media.addEventListener("change", apply);
}

/** A toggle button: pressed = dark. */
export function themeToggle(): HTMLButtonElement {
  const b = h(
    "button",
    {
      type: "button", class: "btn btn-small theme-toggle", "aria-pressed": String(currentTheme() === "dark"), title: "Switch between light and dark",
      onClick: () => {
        const next: Theme = currentTheme() === "dark" ? "light" : "dark";
        picked = next;
        try {
          localStorage.setItem(KEY, next);
        } catch {
          // not remembered across reloads; `picked` holds it for now
        }
        apply();
      },
    },
    h("span", { "aria-hidden": "true", class: "theme-icon" }),
    "Dark theme",
  );
  toggles.add(b);
  return b;
}
