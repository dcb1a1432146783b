// The local Redis starters live in src/bench/local-redis.ts (`slotmq bench compare` uses them too).
export * from '../../src/bench/local-redis.js'
