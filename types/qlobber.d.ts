// Minimal typing for the parts of qlobber 8 that slotmq uses.
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string
    wildcard_one?: string
    wildcard_some?: string
    match_empty_levels?: boolean
    max_words?: number
  }
  export class Qlobber<V = unknown> {
    constructor (options?: QlobberOptions)
    add (topic: string, value: V): this
    remove (topic: string, value?: V): this
    match (topic: string): V[]
    test (topic: string, value: V): boolean
    clear (): this
  }
  export class QlobberDedup<V = unknown> {
    constructor (options?: QlobberOptions)
    add (topic: string, value: V): this
    remove (topic: string, value?: V): this
    match (topic: string): Set<V>
    test (topic: string, value: V): boolean
    clear (): this
  }
  export class QlobberTrue {
    constructor (options?: QlobberOptions)
    add (topic: string): this
    remove (topic: string): this
    test (topic: string): boolean
    clear (): this
  }
}
