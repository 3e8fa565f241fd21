// unkey: `github_app_installations.installation_id` is GitHub's installation
// number; `github_repo_connections.installation_id` references it. The
// column other tables reference is no reference itself, and a column named
// after its own table (`tunnels.tunnel_id`, netbox) holds an outside id.
import { bigint, index, mysqlTable, varchar } from "drizzle-orm/mysql-core";

export const githubAppInstallations = mysqlTable("github_app_installations", {
  pk: bigint("pk", { mode: "number" }).autoincrement().primaryKey(),
  installationId: bigint("installation_id", { mode: "number" }).notNull(),
  accountLogin: varchar("account_login", { length: 256 }).notNull(),
});

export const githubRepoConnections = mysqlTable(
  "github_repo_connections",
  {
    pk: bigint("pk", { mode: "number" }).autoincrement().primaryKey(),
    installationId: bigint("installation_id", { mode: "number" })
      .notNull()
      .references(() => githubAppInstallations.installationId),
  },
  (t) => [index("repo_installation_idx").on(t.installationId)],
);

export const tunnels = mysqlTable("tunnels", {
  id: bigint("id", { mode: "number" }).autoincrement().primaryKey(),
  tunnelId: bigint("tunnel_id", { mode: "number" }),
});
