/**
 * Who may do what (DESIGN.md §9.1). Every route declares the least role it needs in
 * `config.role`; the security plugin compares it with the caller's. Pure, so the
 * whole table is unit-tested without a server.
 */

/** What a route asks for. `public`: no credentials (health, login, the page's assets). */
export type RouteRole = 'public' | 'viewer' | 'operator'
/** What a caller is. A viewer watches and reads; an operator also starts, stops, deletes, restarts. */
export type Role = 'viewer' | 'operator'

export const ROUTE_ROLES: readonly RouteRole[] = ['public', 'viewer', 'operator']

export function isRouteRole(v: unknown): v is RouteRole {
  return typeof v === 'string' && (ROUTE_ROLES as readonly string[]).includes(v)
}

const rank: Record<Role, number> = { viewer: 1, operator: 2 }

export function roleSatisfies(have: Role, need: Exclude<RouteRole, 'public'>): boolean {
  return rank[have] >= rank[need]
}
