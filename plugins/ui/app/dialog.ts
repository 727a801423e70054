// Modal dialogs on the native <dialog> element: showModal() traps focus and
// closes on Escape by itself; we return focus to whatever opened it.
import { add, h, uid, type Child } from "./dom.ts";

export function openDialog(title: string, body: (close: (value?: string) => void) => Child[], onClose?: (value: string) => void): HTMLDialogElement {
  const opener = document.activeElement as HTMLElement | null;
  const titleId = uid("dlg");
  const dlg = h("dialog", { "aria-labelledby": titleId, class: "dialog" });
  const close = (value = "") => dlg.close(value);
  add(dlg, h("h2", { id: titleId }, title), body(close));
  dlg.addEventListener("close", () => {
    dlg.remove();
    onClose?.(dlg.returnValue);
    opener?.focus?.();
  });
  // A click on the backdrop (outside the dialog's box) closes it too.
  dlg.addEventListener("click", (ev) => {
    if (ev.target === dlg) {
      const r = dlg.getBoundingClientRect();
      const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
      if (!inside) close();
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

/** Asks before something that cannot be undone; resolves true only on the confirm button. */
export function confirmDialog(o: { title: string; body: Child; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    openDialog(
      o.title,
      (close) => [
        h("div", { class: "dialog-body" }, o.body),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "btn", onClick: () => close("cancel") }, "Cancel"),
          h("button", { type: "button", class: o.danger ? "btn btn-danger" : "btn btn-primary", onClick: () => close("ok") }, o.confirm),
        ),
      ],
      (value) => resolve(value === "ok"),
    );
  });
}
