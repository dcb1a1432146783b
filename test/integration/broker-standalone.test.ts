import { brokerSuite } from '../helpers/broker-suite.js'
import { startNodes } from '../helpers/nodes.js'

brokerSuite('one standalone node', async () => await startNodes(1))
