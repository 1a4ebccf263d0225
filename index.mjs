// ES module entry: the same class as the CommonJS entry (one module instance,
// so `instanceof` works across both), as the default and as a named export.
import SharedMemory from './index.js'

const { Channel, InPlaceMessage } = SharedMemory

export { SharedMemory, Channel, InPlaceMessage }
export default SharedMemory
