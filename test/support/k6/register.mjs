// Maps k6's module names to the stand-ins in this folder (node --import ./register.mjs).
import { register } from 'node:module'
register('./hooks.mjs', import.meta.url)
