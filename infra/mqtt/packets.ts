/**
 * The few MQTT 3.1.1 packets a publisher needs (OASIS MQTT 3.1.1 §3): CONNECT with a
 * Last Will, PUBLISH at QoS 0 or 1 with the retain flag, PINGREQ, DISCONNECT out;
 * CONNACK, PUBACK, PINGRESP in. Pure byte work, no socket: the client owns the wire.
 */

export interface MqttWill {
  topic: string
  payload: string
  retain: boolean
  qos: 0 | 1
}

export interface ConnectOptions {
  clientId: string
  keepaliveS: number
  username?: string
  password?: string
  will?: MqttWill
}

export type IncomingPacket =
  | { type: 'connack'; returnCode: number; sessionPresent: boolean }
  | { type: 'puback'; packetId: number }
  | { type: 'pingresp' }
  | { type: 'other'; packetType: number }

const utf8 = (s: string) => Buffer.from(s, 'utf8')

function field(bytes: Buffer): Buffer {
  if (bytes.length > 0xffff) throw new Error('MQTT string longer than 65535 bytes')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(bytes.length)
  return Buffer.concat([len, bytes])
}

/** §2.2.3: 7 bits a byte, the top bit says another follows; at most 4 bytes. */
export function encodeRemainingLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 268_435_455) throw new Error(`MQTT remaining length out of range: ${n}`)
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

const packet = (firstByte: number, body: Buffer) => Buffer.concat([Buffer.from([firstByte]), encodeRemainingLength(body.length), body])

export function encodeConnect(opts: ConnectOptions): Buffer {
  let flags = 0x02 // clean session: the rig keeps no subscriptions on the server
  if (opts.will) flags |= 0x04 | (opts.will.qos << 3) | (opts.will.retain ? 0x20 : 0)
  if (opts.password !== undefined) flags |= 0x40
  if (opts.username !== undefined) flags |= 0x80
  const keepalive = Buffer.alloc(2)
  keepalive.writeUInt16BE(opts.keepaliveS)
  const parts = [field(utf8('MQTT')), Buffer.from([0x04, flags]), keepalive, field(utf8(opts.clientId))]
  if (opts.will) parts.push(field(utf8(opts.will.topic)), field(utf8(opts.will.payload)))
  if (opts.username !== undefined) parts.push(field(utf8(opts.username)))
  if (opts.password !== undefined) parts.push(field(utf8(opts.password)))
  return packet(0x10, Buffer.concat(parts))
}

export function encodePublish(msg: { topic: string; payload: string | Buffer; qos: 0 | 1; retain: boolean; packetId?: number }): Buffer {
  if (msg.qos === 1 && (msg.packetId === undefined || msg.packetId < 1 || msg.packetId > 0xffff)) throw new Error('QoS 1 needs a packet id 1..65535')
  const parts = [field(utf8(msg.topic))]
  if (msg.qos === 1) {
    const id = Buffer.alloc(2)
    id.writeUInt16BE(msg.packetId!)
    parts.push(id)
  }
  parts.push(typeof msg.payload === 'string' ? utf8(msg.payload) : msg.payload)
  return packet(0x30 | (msg.qos << 1) | (msg.retain ? 1 : 0), Buffer.concat(parts))
}

export const encodePingreq = () => Buffer.from([0xc0, 0x00])
export const encodeDisconnect = () => Buffer.from([0xe0, 0x00])

/**
 * Splits a byte stream into packets: returns those complete in `buffer` and the bytes
 * left over (a packet cut across two TCP reads waits for the rest).
 */
export function decodePackets(buffer: Buffer): { packets: IncomingPacket[]; rest: Buffer } {
  const packets: IncomingPacket[] = []
  let offset = 0
  for (;;) {
    if (buffer.length - offset < 2) break
    let length = 0
    let multiplier = 1
    let i = offset + 1
    let complete = false
    for (let n = 0; n < 4 && i < buffer.length; n++, i++) {
      const byte = buffer[i]!
      length += (byte & 0x7f) * multiplier
      multiplier *= 128
      if ((byte & 0x80) === 0) {
        complete = true
        i++
        break
      }
    }
    if (!complete) {
      if (i - offset - 1 >= 4) throw new Error('malformed MQTT remaining length')
      break
    }
    if (buffer.length - i < length) break
    const type = buffer[offset]! >> 4
    const body = buffer.subarray(i, i + length)
    if (type === 2 && body.length >= 2) packets.push({ type: 'connack', sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! })
    else if (type === 4 && body.length >= 2) packets.push({ type: 'puback', packetId: body.readUInt16BE(0) })
    else if (type === 13) packets.push({ type: 'pingresp' })
    else packets.push({ type: 'other', packetType: type })
    offset = i + length
  }
  return { packets, rest: buffer.subarray(offset) }
}

/** CONNACK return codes (§3.2.2.3), in an operator's words. */
export function connackReason(code: number): string {
  switch (code) {
    case 0:
      return 'accepted'
    case 1:
      return 'the server does not speak MQTT 3.1.1'
    case 2:
      return 'client id refused'
    case 3:
      return 'MQTT service unavailable'
    case 4:
      return 'bad user name or password'
    case 5:
      return 'not authorized'
    default:
      return `refused (code ${code})`
  }
}
