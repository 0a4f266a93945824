import t from 'tap'
import { connackReason, decodePackets, encodeConnect, encodeDisconnect, encodePingreq, encodePublish, encodeRemainingLength } from '../../../infra/mqtt/packets.js'

t.test('remaining length: the spec examples (MQTT 3.1.1 §2.2.3)', async (t) => {
  t.same([...encodeRemainingLength(0)], [0x00])
  t.same([...encodeRemainingLength(127)], [0x7f])
  t.same([...encodeRemainingLength(128)], [0x80, 0x01])
  t.same([...encodeRemainingLength(16383)], [0xff, 0x7f])
  t.same([...encodeRemainingLength(16384)], [0x80, 0x80, 0x01])
  t.same([...encodeRemainingLength(268435455)], [0xff, 0xff, 0xff, 0x7f])
  t.throws(() => encodeRemainingLength(268435456))
})

t.test('CONNECT: clean session, will (retained, QoS 1), user and password', async (t) => {
  const bytes = encodeConnect({ clientId: 'vigil-n', keepaliveS: 30, username: 'u', password: 'p', will: { topic: 'a/b', payload: 'offline', retain: true, qos: 1 } })
  t.equal(bytes[0], 0x10)
  t.equal(bytes[1], bytes.length - 2)
  t.same([...bytes.subarray(2, 8)], [0, 4, 0x4d, 0x51, 0x54, 0x54], 'protocol name MQTT')
  t.equal(bytes[8], 4, 'level 4 = 3.1.1')
  t.equal(bytes[9], 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02, 'flags: user, password, will retain, will QoS 1, will, clean session')
  t.equal(bytes.readUInt16BE(10), 30, 'keep-alive')
  t.match(bytes.subarray(12).toString('latin1'), /\x00\x07vigil-n\x00\x03a\/b\x00\x07offline\x00\x01u\x00\x01p$/)
  const bare = encodeConnect({ clientId: 'x', keepaliveS: 0 })
  t.equal(bare[9], 0x02, 'no will, no credentials')
})

t.test('PUBLISH: QoS 0 and 1, retain; control packets', async (t) => {
  const q0 = encodePublish({ topic: 't', payload: 'hi', qos: 0, retain: false })
  t.same([...q0], [0x30, 5, 0, 1, 0x74, 0x68, 0x69])
  const q1 = encodePublish({ topic: 't', payload: Buffer.from('hi'), qos: 1, retain: true, packetId: 258 })
  t.same([...q1], [0x33, 7, 0, 1, 0x74, 1, 2, 0x68, 0x69])
  t.throws(() => encodePublish({ topic: 't', payload: 'x', qos: 1, retain: false }), /packet id/)
  const big = encodePublish({ topic: 'homeassistant/x', payload: 'x'.repeat(300), qos: 0, retain: true })
  t.same([...big.subarray(0, 3)], [0x31, 0xbd, 0x02], 'a two-byte length (317)')
  t.same([...encodePingreq()], [0xc0, 0])
  t.same([...encodeDisconnect()], [0xe0, 0])
})

t.test('decode: CONNACK, PUBACK, PINGRESP, split across reads', async (t) => {
  const stream = Buffer.from([0x20, 2, 0, 0, 0x40, 2, 0x01, 0x02, 0xd0, 0])
  t.same(decodePackets(stream).packets, [{ type: 'connack', sessionPresent: false, returnCode: 0 }, { type: 'puback', packetId: 258 }, { type: 'pingresp' }])
  const first = decodePackets(stream.subarray(0, 6))
  t.same(first.packets, [{ type: 'connack', sessionPresent: false, returnCode: 0 }])
  t.equal(first.rest.length, 2, 'half a PUBACK waits')
  const second = decodePackets(Buffer.concat([first.rest, stream.subarray(6)]))
  t.same(second.packets, [{ type: 'puback', packetId: 258 }, { type: 'pingresp' }])
  t.equal(second.rest.length, 0)
  t.same(decodePackets(Buffer.from([0x20, 2, 0, 5])).packets, [{ type: 'connack', sessionPresent: false, returnCode: 5 }])
  t.equal(connackReason(5), 'not authorized')
  t.equal(connackReason(4), 'bad user name or password')
  t.throws(() => decodePackets(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), /malformed/)
})
