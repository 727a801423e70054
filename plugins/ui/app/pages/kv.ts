// The KV browser and editor. A route ending in "/" (or empty) is a folder:
// its keys one level down (?keys&separator=/), kept current by a blocking
// query. Any other route is one key: its value in an editor that saves with
// check-and-set (?cas=ModifyIndex), so a concurrent change is never
// overwritten unseen; a blocking query on the key says when it changed.
import { api, encPath, HttpError } from "../api.ts";
import { confirmDialog } from "../dialog.ts";
import { fill, h, section, uid } from "../dom.ts";
import { decodeValue } from "../format.ts";
import { errorView, loading, type PageCtx } from "../page.ts";
import { can, reasonFor } from "../session.ts";

interface KvEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  /** The lock holder's session (Consul's ?acquire=), absent when unlocked. */
  Session?: string;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

const href = (key: string) => `#/kv/${encPath(key)}`;

function breadcrumb(path: string): HTMLElement {
  const parts = path.split("/").filter((p, i, all) => p !== "" || i < all.length - 1);
  const items: HTMLElement[] = [h("li", null, h("a", { href: "#/kv/" }, "(root)"))];
  let acc = "";
  parts.forEach((p, i) => {
    const last = i === parts.length - 1;
    acc += p + (last && !path.endsWith("/") ? "" : "/");
    items.push(h("li", null, last ? h("span", { "aria-current": "page" }, p) : h("a", { href: href(acc) }, p)));
  });
  return h("nav", { "aria-label": "Key path", class: "breadcrumb" }, h("ol", null, items));
}

export function kvPage(ctx: PageCtx, path: string): void {
  if (path === "" || path.endsWith("/")) folderView(ctx, path);
  else keyView(ctx, path);
}

function folderView(ctx: PageCtx, prefix: string): void {
  ctx.title(prefix ? `Key/Value: ${prefix}` : "Key/Value");
  const list = h("div", null, loading("keys"));
  const actions = h("div", { class: "toolbar toolbar-end" });
  ctx.main.append(breadcrumb(prefix), section(prefix ? `Keys under ${prefix}` : "Keys", list, actions), section("New key", newKeyForm(prefix)));

  ctx.watch<string[] | null>(
    `/v1/kv/${encPath(prefix)}?keys&separator=/`,
    (keys) => {
      const names = (keys ?? []).filter((k) => k !== prefix);
      if (names.length === 0) return fill(list, h("p", { class: "empty" }, prefix ? "No keys under this prefix." : "The store is empty. Create a key below."));
      fill(
        list,
        h(
          "ul",
          { class: "kv-list" },
          names.map((k) => {
            const folder = k.endsWith("/");
            return h("li", null, h("a", { href: href(k), class: folder ? "kv-folder" : "kv-key" }, h("span", { "aria-hidden": "true", class: "kv-icon" }, folder ? "▸" : "•"), k.slice(prefix.length) || k, folder ? h("span", { class: "visually-hidden" }, " (folder)") : null));
          }),
        ),
      );
    },
    { allow404: true, onError: (err) => fill(list, errorView(err, "keys", `key read on "${prefix}"`)) },
  );

  if (prefix) {
    const check = `key:write-under:${prefix}`;
    void can([check]).then((r) => {
      const ok = r[check];
      const why = uid("why");
      fill(
        actions,
        h("button", { type: "button", class: "btn btn-danger", "aria-disabled": ok ? null : "true", "aria-describedby": ok ? null : why, onClick: () => ok && void deleteTree() }, `Delete everything under ${prefix}`),
        ok ? null : h("span", { id: why, class: "reason small" }, reasonFor(check)),
      );
    });
  }
  const deleteTree = async () => {
    const sure = await confirmDialog({ title: "Delete a whole folder?", body: h("p", null, "Every key under ", h("code", null, prefix), " will be deleted. This cannot be undone."), confirm: "Delete them all", danger: true });
    if (!sure) return;
    try {
      await api(`/v1/kv/${encPath(prefix)}?recurse`, { method: "DELETE" });
      location.hash = href(prefix.split("/").slice(0, -2).join("/") + (prefix.split("/").length > 2 ? "/" : ""));
    } catch (err) {
      actions.append(h("p", { class: "form-error", role: "alert" }, (err as Error).message));
    }
  };
}

function newKeyForm(prefix: string): HTMLElement {
  const nameId = uid("name");
  const valueId = uid("value");
  const name = h("input", { id: nameId, class: "input", required: true, autocomplete: "off", spellcheck: "false", placeholder: "name or sub/folder/name" });
  const value = h("textarea", { id: valueId, class: "input mono", rows: 4 });
  const out = h("p", { role: "status", class: "small" });
  return h(
    "form",
    {
      class: "stack",
      onSubmit: async (ev: SubmitEvent) => {
        ev.preventDefault();
        const key = prefix + name.value.trim().replace(/^\/+/, "");
        if (!key || key.endsWith("/")) return void (out.textContent = "A key name must not be empty or end with /.");
        try {
          // cas=0: create only; an existing key is not overwritten from here.
          const a = await api<boolean>(`/v1/kv/${encPath(key)}?cas=0`, { method: "PUT", body: value.value });
          if (a.data === false) return void (out.textContent = `${key} exists already: open it to edit it.`);
          location.hash = href(key);
        } catch (err) {
          out.textContent = err instanceof HttpError && err.denied ? `Refused: your token may not write ${key} (${err.message}).` : (err as Error).message;
        }
      },
    },
    h("label", { for: nameId }, `Key name${prefix ? ` (under ${prefix})` : ""}`),
    name,
    h("label", { for: valueId }, "Value"),
    value,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Create key")),
    out,
  );
}

function keyView(ctx: PageCtx, key: string): void {
  ctx.title(key.split("/").pop() || key);
  document.title = `${key} · corral`;
  const body = h("div", null, loading("the key"));
  ctx.main.append(breadcrumb(key), section("Entry", body));
  const valueId = uid("value");
  const flagsId = uid("flags");
  const whyId = uid("why");
  const value = h("textarea", { id: valueId, class: "input mono", rows: 10, spellcheck: "false" });
  const flags = h("input", { id: flagsId, class: "input input-inline", type: "number", min: "0", step: "1", value: "0", inputmode: "numeric" });
  const status = h("p", { role: "status", class: "small" });
  const notice = h("div", { "aria-live": "polite" });
  const facts = h("div");
  const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save");
  const del = h("button", { type: "button", class: "btn btn-danger" }, "Delete");
  const reason = h("p", { id: whyId, class: "reason small" });
  let entry: KvEntry | null = null;
  let loadedText = "";
  let allowed = true;
  let binary = false;
  /** Our own write or delete is in flight: its echo from the blocking query is not someone else's change. */
  let busy = false;

  const dirty = () => value.value !== loadedText || Number(flags.value || 0) !== (entry?.Flags ?? 0);
  const setButtons = () => {
    for (const b of [save, del]) {
      b.setAttribute("aria-disabled", String(!allowed || binary));
      if (!allowed) b.setAttribute("aria-describedby", whyId);
    }
    del.hidden = !entry;
    save.textContent = entry ? "Save" : "Create";
  };

  const show = (e: KvEntry | null) => {
    entry = e;
    const v = decodeValue(e?.Value ?? null);
    binary = v.binary;
    loadedText = v.text;
    value.value = v.text;
    value.readOnly = binary;
    flags.value = String(e?.Flags ?? 0);
    fill(notice);
    const size = v.binary ? atob(e?.Value ?? "").length : new TextEncoder().encode(v.text).length;
    fill(facts,
      h("p", { class: "muted small" }, e ? `Modify index ${e.ModifyIndex} · create index ${e.CreateIndex} · ${size} bytes` : "This key does not exist. Write a value and create it."),
      e?.Session
        ? h("p", { class: "small kv-lock" }, "Locked by session ", h("a", { href: `#/sessions/${encPath(e.Session)}`, class: "mono" }, e.Session), ` (lock index ${e.LockIndex})`)
        : e && e.LockIndex > 0 ? h("p", { class: "muted small" }, `Not locked (acquired ${e.LockIndex} time${e.LockIndex === 1 ? "" : "s"} so far)`) : null);
    if (binary) fill(notice, h("p", { class: "notice" }, "This value is not UTF-8 text; it is shown as base64 and cannot be edited here."));
    setButtons();
  };

  const write = async (cas: number) => {
    status.textContent = "Saving…";
    busy = true;
    try {
      const a = await api<boolean>(`/v1/kv/${encPath(key)}?cas=${cas}&flags=${Number(flags.value || 0)}`, { method: "PUT", body: value.value });
      if (a.data === true) {
        const fresh = await api<KvEntry[] | null>(`/v1/kv/${encPath(key)}`, { allow404: true });
        show(fresh.data?.[0] ?? null);
        status.textContent = `Saved at index ${entry?.ModifyIndex ?? "?"}.`;
        return;
      }
      const now = (await api<KvEntry[] | null>(`/v1/kv/${encPath(key)}`, { allow404: true })).data?.[0] ?? null;
      status.textContent = "Not saved: the key changed since you opened it.";
      conflict(now);
    } catch (err) {
      status.textContent = err instanceof HttpError && err.denied ? `Refused: ${err.message}` : `Not saved: ${(err as Error).message}`;
    } finally {
      busy = false;
    }
  };

  /** Someone else wrote the key: keep the user's text, offer theirs or an overwrite. */
  const conflict = (theirs: KvEntry | null) => {
    fill(
      notice,
      h(
        "div",
        { class: "alert alert-warning", role: "alert" },
        h("p", null, theirs ? `This key was changed on the server (now at index ${theirs.ModifyIndex}). Your edits are still in the box.` : "This key was deleted on the server. Your edits are still in the box."),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "btn", onClick: () => show(theirs) }, "Load the server's value"),
          h("button", { type: "button", class: "btn btn-danger", onClick: () => void write(theirs ? theirs.ModifyIndex : 0) }, theirs ? "Overwrite with mine" : "Create it again"),
        ),
      ),
    );
  };

  del.addEventListener("click", async () => {
    if (!allowed || !entry) return;
    const sure = await confirmDialog({ title: "Delete this key?", body: h("p", null, h("code", null, key), " will be deleted. This cannot be undone."), confirm: "Delete", danger: true });
    if (!sure) return;
    busy = true;
    try {
      const a = await api<boolean>(`/v1/kv/${encPath(key)}?cas=${entry.ModifyIndex}`, { method: "DELETE" });
      if (a.data === true) location.hash = href(key.slice(0, key.lastIndexOf("/") + 1));
      else conflict((await api<KvEntry[] | null>(`/v1/kv/${encPath(key)}`, { allow404: true })).data?.[0] ?? null);
    } catch (err) {
      status.textContent = err instanceof HttpError && err.denied ? `Refused: ${err.message}` : (err as Error).message;
    } finally {
      busy = false;
    }
  });

  const form = h(
    "form",
    {
      class: "stack",
      onSubmit: (ev: SubmitEvent) => {
        ev.preventDefault();
        if (allowed && !binary) void write(entry ? entry.ModifyIndex : 0);
      },
    },
    h("label", { for: valueId }, "Value"),
    value,
    h("div", { class: "toolbar" }, h("label", { for: flagsId }, "Flags"), flags),
    h("div", { class: "actions" }, save, del),
    reason,
    status,
  );

  let first = true;
  ctx.watch<KvEntry[] | null>(
    `/v1/kv/${encPath(key)}`,
    (data) => {
      const e = data?.[0] ?? null;
      if (first) {
        first = false;
        fill(body, notice, facts, form);
        show(e);
        return;
      }
      if (busy || e?.ModifyIndex === entry?.ModifyIndex) return; // our own write, shown when it completes
      if (e && !decodeValue(e.Value).binary && decodeValue(e.Value).text === value.value) return show(e); // the same text: nothing to choose
      if (!dirty()) {
        show(e);
        status.textContent = e ? `Updated from the server (index ${e.ModifyIndex}).` : "The key was deleted on the server.";
      } else conflict(e);
    },
    { allow404: true, onError: (err) => fill(body, errorView(err, "this key", `key read on "${key}"`)) },
  );

  const check = `key:write:${key}`;
  void can([check]).then((r) => {
    allowed = r[check] ?? false;
    reason.textContent = allowed ? "" : reasonFor(check);
    setButtons();
  });
}
