import { brokerSuite } from '../helpers/broker-suite.js'
import { startNodes } from '../helpers/nodes.js'
import { protocolSuite } from '../helpers/protocol-suite.js'

brokerSuite('one standalone node', async () => await startNodes(1))
protocolSuite('protocol edge: one standalone node', async () => await startNodes(1))
