// A typed client for orgauth: openapi-fetch over the types openapi-typescript generates from the
// server's OpenAPI document (src/schema.d.ts, from openapi.json; never edited by hand).
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type Session = Schemas["Session"];
export type User = Schemas["User"];
export type SessionAndUser = Schemas["SessionAndUser"];
export type Organization = Schemas["Organization"];
export type FullOrganization = Schemas["FullOrganizationResponse"];
export type Member = Schemas["Member"];
export type MemberWithUser = Schemas["MemberWithUser"];
export type Team = Schemas["Team"];
export type TeamMember = Schemas["TeamMember"];
export type Invitation = Schemas["Invitation"];
/** Every error body: `{message, code?}`; `code` is the stable one to branch on. */
export type ErrorBody = Schemas["ErrorBody"];
export type OrgauthClient = Client<paths>;

export interface OrgauthClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /**
   * A session token for `Authorization: Bearer …` (the `set-auth-token` response header of
   * sign-in/sign-up), or a function returning the current one; nothing is sent when it is absent.
   * In a browser, leave it out and pass `credentials: "include"` to use the session cookie.
   */
  bearer?: string | (() => string | null | undefined | Promise<string | null | undefined>);
}

/** The client for the orgauth server at `baseUrl` (its origin, e.g. `https://auth.example.com`). */
export function createOrgauthClient(baseUrl: string, opts: OrgauthClientOptions = {}): OrgauthClient {
  const { bearer, ...clientOptions } = opts;
  const client = createClient<paths>({ ...clientOptions, baseUrl });
  if (bearer !== undefined) {
    client.use({
      async onRequest({ request }) {
        const token = typeof bearer === "function" ? await bearer() : bearer;
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    });
  }
  return client;
}
