// The token sign-in dialog, shown when ACLs are on. The token is checked
// against the server before it is kept (sessionStorage, this tab only).
import { openDialog } from "./dialog.ts";
import { h, uid } from "./dom.ts";
import { signIn } from "./session.ts";

export function loginDialog(note?: string): void {
  openDialog("Sign in with an ACL token", (close) => {
    const inputId = uid("token");
    const helpId = uid("help");
    const input = h("input", {
      id: inputId, name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true,
      "aria-describedby": helpId, class: "input", placeholder: "SecretID",
    });
    const error = h("p", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
    const form = h(
      "form",
      {
        class: "stack",
        onSubmit: async (ev: SubmitEvent) => {
          ev.preventDefault();
          error.textContent = "";
          submit.disabled = true;
          try {
            await signIn(input.value.trim());
            close("ok");
          } catch (err) {
            error.textContent = (err as Error).message;
            input.focus();
          } finally {
            submit.disabled = false;
          }
        },
      },
      note ? h("p", { class: "notice" }, note) : null,
      h("label", { for: inputId }, "ACL token"),
      input,
      h("p", { id: helpId, class: "hint" }, "The token's SecretID (corral acl bootstrap prints the first one). It is kept in this tab only and sent as X-Consul-Token."),
      error,
      h("div", { class: "actions" }, h("button", { type: "button", class: "btn", onClick: () => close("cancel") }, "Cancel"), submit),
    );
    queueMicrotask(() => input.focus());
    return [form];
  });
}
