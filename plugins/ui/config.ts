// `[plugins.ui]`: the web dashboard. One switch: whether `GET /` redirects
// to `/ui` (turn it off when something else should own `/`, e.g. an
// external plugin, or a proxy in front of corral that serves its own page).
import { z } from "zod";

export const uiConfigSchema = z
  .object({
    /** Answer `GET /` with a redirect to the dashboard at `/ui`. */
    redirect_root: z.boolean().default(true),
  })
  .strict();

export type UiConfig = z.output<typeof uiConfigSchema>;
