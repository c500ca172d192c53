#!/usr/bin/env node
/**
 * shuoshi Wechaty gateway: serves one Wechaty puppet over the Wechaty Puppet Service gRPC
 * protocol (wechaty-puppet-service `PuppetServer`) so the Python bot can talk to WeChat.
 *
 * Environment:
 *   WECHATY_PUPPET                  puppet npm name (wechaty-puppet-mock, wechaty-puppet-wechat4u,
 *                                   wechaty-puppet-padlocal, wechaty-puppet-xp, ...). Required.
 *   WECHATY_TOKEN                   token clients must send as `authorization: Wechaty <token>`. Required.
 *   WECHATY_PUPPET_SERVER_PORT      gRPC port (default 8788).
 *   WECHATY_PUPPET_SERVER_HOST      gRPC bind address (default 127.0.0.1).
 *   WECHATY_PUPPET_SERVICE_NO_TLS   "true": plaintext gRPC (PuppetServer option tls.disable).
 *   WECHATY_PUPPET_TOKEN            optional, passed to the puppet as `puppetOptions.token`.
 *   GATEWAY_CONTROL_PORT            mock only: HTTP control endpoint port (default 8789, 0 = any).
 *   WECHATY_LOG                     wechaty log level (silent, error, warn, info, verbose, silly).
 *
 * Prints one line `wechaty-gateway ready {json}` on stdout when both servers listen.
 * See README.md for the control endpoint API.
 */
import http from 'node:http'
import { randomUUID } from 'node:crypto'

import { FileBox } from 'file-box'
import * as PUPPET from 'wechaty-puppet'
import { PuppetServer } from 'wechaty-puppet-service'

const MOCK_PUPPET = 'wechaty-puppet-mock'

function fail (message) {
  console.error(`wechaty-gateway: ${message}`)
  process.exit(2)
}

function envPort (name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`${name} must be a port number, got "${raw}"`)
  return port
}

const MessageType = PUPPET.types.Message

/* ------------------------------------------------------------------------------------------ */
/* Mock puppet                                                                                */
/* ------------------------------------------------------------------------------------------ */

const TYPE_BY_NAME = {
  text: MessageType.Text,
  image: MessageType.Image,
  audio: MessageType.Audio,
  video: MessageType.Video,
  file: MessageType.Attachment,
  emoticon: MessageType.Emoticon,
}
const DEFAULT_FILE_NAME = {
  image: 'image.png',
  audio: 'voice.silk',
  video: 'video.mp4',
  file: 'file.txt',
  emoticon: 'emoticon.gif',
}
// A 1x1 PNG, used when an image message carries no data.
const TINY_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

function messageTypeOfFile (fileBox) {
  const name = (fileBox.name || '').toLowerCase()
  const mediaType = fileBox.mediaType || ''
  if (mediaType.startsWith('image/') || /\.(png|jpe?g|gif|webp)$/.test(name)) return MessageType.Image
  if (mediaType.startsWith('audio/') || /\.(silk|sil|mp3|amr|wav|ogg)$/.test(name)) return MessageType.Audio
  if (mediaType.startsWith('video/') || /\.mp4$/.test(name)) return MessageType.Video
  return MessageType.Attachment
}

async function createMockPuppet () {
  const { PuppetMock, mock } = await import(MOCK_PUPPET)

  /**
   * PuppetMock with what the tests need on top:
   *  - messageSendText keeps the mention ids and returns the new message id,
   *    and every message the bot sends is recorded in `this.sent`;
   *  - messages (incoming and sent) are real mocker messages, so `message` events fire for both
   *    and MessagePayload works for both;
   *  - file messages keep their FileBox as a Base64 box: the gRPC server passes boxes up to
   *    20 KB through inline (FileBox JSON with `base64`) and turns bigger ones into UUID boxes
   *    to fetch with `Download`, as it does for real puppets' files.
   */
  class GatewayMockPuppet extends PuppetMock {
    constructor (options = {}) {
      super(options)
      this.sent = []
      this.files = new Map()
    }

    resetMocker () {
      const mocker = new mock.Mocker()
      mocker.puppet = this
      this.mocker = mocker
      this.files.clear()
      this.sent.length = 0
      this.cache.clear()
    }

    hasRoom (id) { return this.mocker.cacheRoomPayload.has(id) }
    hasContact (id) { return this.mocker.cacheContactPayload.has(id) }

    /** Create a message in the mocker and emit the `message` event. Returns the message id. */
    postMessage ({ talkerId, roomId, listenerId, text, type, mentionIdList, fileBox }) {
      const payload = {
        id: randomUUID(),
        talkerId,
        text: text ?? '',
        timestamp: Date.now(),
        type,
      }
      if (roomId) {
        payload.roomId = roomId
        payload.mentionIdList = [...(mentionIdList ?? [])]
      } else {
        payload.listenerId = listenerId
      }
      if (fileBox) {
        payload.filename = fileBox.name
        this.files.set(payload.id, fileBox)
      }
      this.mocker.MessageMock.create(payload)
      this.emit('message', { messageId: payload.id })
      return payload.id
    }

    conversation (conversationId) {
      if (!this.isLoggedIn) throw new Error('not logged in')
      if (this.hasRoom(conversationId)) return { roomId: conversationId, contactId: null }
      if (this.hasContact(conversationId)) return { roomId: null, contactId: conversationId }
      throw new Error(`unknown conversation id "${conversationId}"`)
    }

    async messageSendText (conversationId, text, mentionIdList = []) {
      const { roomId, contactId } = this.conversation(conversationId)
      const mentionIds = roomId ? [...(mentionIdList ?? [])] : []
      const messageId = this.postMessage({
        listenerId: contactId,
        mentionIdList: mentionIds,
        roomId,
        talkerId: this.currentUserId,
        text,
        type: MessageType.Text,
      })
      this.sent.push({ contactId, conversationId, mentionIds, messageId, roomId, text, timestamp: Date.now(), type: 'text' })
      return messageId
    }

    async messageSendFile (conversationId, fileBox) {
      const { roomId, contactId } = this.conversation(conversationId)
      const buffer = await fileBox.toBuffer()
      const stored = FileBox.fromBase64(buffer.toString('base64'), fileBox.name)
      const messageId = this.postMessage({
        listenerId: contactId,
        roomId,
        talkerId: this.currentUserId,
        type: messageTypeOfFile(fileBox),
        fileBox: stored,
      })
      this.sent.push({
        contactId,
        conversationId,
        fileName: fileBox.name,
        mentionIds: [],
        messageId,
        roomId,
        size: buffer.length,
        text: '',
        timestamp: Date.now(),
        type: 'file',
      })
      return messageId
    }

    async messageFile (messageId) {
      const fileBox = this.files.get(messageId)
      if (!fileBox) throw new Error(`message "${messageId}" has no file`)
      return fileBox
    }

    async messageImage (messageId, _imageType) {
      return this.messageFile(messageId)
    }
  }

  return new GatewayMockPuppet()
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP control endpoint (mock only)                                                          */
/* ------------------------------------------------------------------------------------------ */

class HttpError extends Error {
  constructor (status, message) {
    super(message)
    this.status = status
  }
}

function readJson (req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', chunk => chunks.push(chunk))
    req.on('error', reject)
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8').trim()
      if (!raw) return resolve({})
      try {
        const body = JSON.parse(raw)
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          return reject(new HttpError(400, 'body must be a JSON object'))
        }
        resolve(body)
      } catch (e) {
        reject(new HttpError(400, `invalid JSON: ${e.message}`))
      }
    })
  })
}

const nextTick = () => new Promise(resolve => setImmediate(resolve))

function createControlApi (puppet) {
  let counter = 0
  const newId = (prefix) => `${prefix}${++counter}`

  const contactView = (p) => ({ alias: p.alias ?? '', friend: !!p.friend, id: p.id, name: p.name })
  const roomView = (p) => ({ id: p.id, memberIds: [...p.memberIdList], ownerId: p.ownerId ?? '', topic: p.topic })

  function requireContact (id, field) {
    if (typeof id !== 'string' || !puppet.hasContact(id)) throw new HttpError(404, `${field}: unknown contact "${id}"`)
    return id
  }

  function createContact (body) {
    const id = body.id ?? newId('wxid_mock_')
    if (typeof id !== 'string' || !id) throw new HttpError(400, 'id must be a non-empty string')
    if (puppet.hasContact(id)) throw new HttpError(409, `contact "${id}" exists`)
    const payload = {
      alias: body.alias ?? '',
      avatar: '',
      friend: body.friend ?? true,
      gender: PUPPET.types.ContactGender.Unknown,
      id,
      name: String(body.name ?? id),
      phone: [],
      type: PUPPET.types.Contact.Individual,
    }
    puppet.mocker.ContactMock.create(payload)
    return contactView(payload)
  }

  const routes = {
    'GET /health': () => ({
      loggedIn: puppet.isLoggedIn,
      ok: true,
      puppet: MOCK_PUPPET,
      userId: puppet.isLoggedIn ? puppet.currentUserId : null,
    }),

    'GET /contacts': () => [...puppet.mocker.cacheContactPayload.values()].map(contactView),
    'POST /contacts': (body) => createContact(body),

    'GET /rooms': () => [...puppet.mocker.cacheRoomPayload.values()].map(roomView),
    'POST /rooms': (body) => {
      let id = body.id ?? newId('mockroom')
      if (typeof id !== 'string' || !id) throw new HttpError(400, 'id must be a non-empty string')
      if (!id.includes('@')) id += '@chatroom' // WeChat room ids end with @chatroom
      if (puppet.hasRoom(id)) throw new HttpError(409, `room "${id}" exists`)
      const memberIds = body.memberIds ?? []
      if (!Array.isArray(memberIds)) throw new HttpError(400, 'memberIds must be a list')
      memberIds.forEach(m => requireContact(m, 'memberIds'))
      const payload = {
        adminIdList: [],
        avatar: '',
        id,
        memberIdList: [...memberIds],
        ownerId: body.ownerId ?? '',
        topic: String(body.topic ?? id),
      }
      puppet.mocker.RoomMock.create(payload)
      return roomView(payload)
    },

    'POST /login': async (body) => {
      const id = body.id ?? 'wxid_shuoshi_bot'
      if (puppet.isLoggedIn) {
        if (puppet.currentUserId === id) return { alreadyLoggedIn: true, id }
        throw new HttpError(409, `already logged in as "${puppet.currentUserId}"`)
      }
      if (!puppet.hasContact(id)) createContact({ id, name: body.name ?? '说事' })
      puppet.mocker.login(puppet.mocker.ContactMock.load(id)) // emits LOGIN
      return { alreadyLoggedIn: false, id }
    },

    'POST /scan': (body) => {
      const qrcode = String(body.qrcode ?? 'https://login.weixin.qq.com/l/mock')
      const status = Number(body.status ?? PUPPET.types.ScanStatus.Waiting)
      puppet.mocker.scan(qrcode, status) // emits SCAN
      return { qrcode, status }
    },

    'POST /logout': async () => {
      if (!puppet.isLoggedIn) return { loggedOut: false }
      await puppet.logout('control endpoint') // emits LOGOUT
      await nextTick()
      return { loggedOut: true }
    },

    'POST /messages': async (body) => {
      const talkerId = requireContact(body.from, 'from')
      const kind = body.type ?? 'text'
      const type = TYPE_BY_NAME[kind]
      if (type === undefined) throw new HttpError(400, `type must be one of ${Object.keys(TYPE_BY_NAME).join(', ')}`)
      let roomId = null
      let listenerId = null
      if (body.roomId !== undefined) {
        roomId = body.roomId
        if (!puppet.hasRoom(roomId)) throw new HttpError(404, `roomId: unknown room "${roomId}"`)
      } else {
        listenerId = body.to ?? (puppet.isLoggedIn ? puppet.currentUserId : undefined)
        if (!listenerId) throw new HttpError(400, 'private message needs "to" or a logged-in bot')
        requireContact(listenerId, 'to')
      }
      const mentionIds = body.mentionIds ?? []
      if (!Array.isArray(mentionIds)) throw new HttpError(400, 'mentionIds must be a list')
      if (!roomId && mentionIds.length) throw new HttpError(400, 'mentionIds only apply to room messages')
      mentionIds.forEach(m => requireContact(m, 'mentionIds'))

      let fileBox
      if (kind !== 'text') {
        const name = body.fileName ?? DEFAULT_FILE_NAME[kind]
        const base64 = body.base64 ?? (kind === 'image' ? TINY_PNG_BASE64 : Buffer.from(`mock ${kind}`).toString('base64'))
        fileBox = FileBox.fromBase64(base64, name)
      }
      const messageId = puppet.postMessage({
        fileBox,
        listenerId,
        mentionIdList: mentionIds,
        roomId,
        talkerId,
        text: String(body.text ?? ''),
        type,
      })
      return { messageId, type }
    },

    'GET /sent': () => puppet.sent,

    'POST /reset': async (body) => {
      const keepLogin = !!body.keepLogin && puppet.isLoggedIn
      let bot = null
      if (keepLogin) {
        bot = puppet.mocker.contactPayload(puppet.currentUserId)
      } else if (puppet.isLoggedIn) {
        await puppet.logout('control endpoint reset') // emits LOGOUT
        await nextTick()
      }
      puppet.resetMocker()
      if (bot) puppet.mocker.ContactMock.create(bot)
      return { keptLogin: keepLogin }
    },
  }

  return async function handle (req, res) {
    const url = new URL(req.url, 'http://control')
    const route = routes[`${req.method} ${url.pathname}`]
    let status = 200
    let result
    try {
      if (!route) throw new HttpError(404, `no route ${req.method} ${url.pathname}`)
      const body = req.method === 'POST' ? await readJson(req) : {}
      result = await route(body)
    } catch (e) {
      status = e instanceof HttpError ? e.status : 500
      result = { error: e.message }
    }
    const data = JSON.stringify(result)
    res.writeHead(status, { 'content-length': Buffer.byteLength(data), 'content-type': 'application/json; charset=utf-8' })
    res.end(data)
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Main                                                                                       */
/* ------------------------------------------------------------------------------------------ */

async function createPuppet (name) {
  if (name === MOCK_PUPPET) return createMockPuppet()
  const puppetOptions = {}
  if (process.env.WECHATY_PUPPET_TOKEN) puppetOptions.token = process.env.WECHATY_PUPPET_TOKEN
  try {
    // Same resolution as WechatyBuilder.build({ puppet: name }): import the npm module, `new` its default export.
    return await PUPPET.helpers.resolvePuppet({ puppet: name, puppetOptions })
  } catch (e) {
    fail(`cannot load puppet "${name}": ${e.message}\n(install it next to this script: npm install --no-save ${name})`)
  }
}

/**
 * The server does not queue events: a SCAN (the QR code to log in) emitted while no client
 * listens, e.g. while the bot restarts, would be lost until the puppet shows a new QR code.
 * Keep the last one and emit it again when a client calls Start (clients open their event
 * stream first, then call Start).
 */
function replayScanOnStart (puppet) {
  let lastScan = null
  puppet.on('scan', payload => { lastScan = payload })
  puppet.on('login', () => { lastScan = null })
  const start = puppet.start.bind(puppet)
  puppet.start = async (...args) => {
    await start(...args)
    const payload = lastScan
    if (payload && !puppet.isLoggedIn) setImmediate(() => puppet.emit('scan', payload))
  }
}

async function main () {
  const puppetName = process.env.WECHATY_PUPPET
  if (!puppetName) fail('set WECHATY_PUPPET (e.g. wechaty-puppet-mock)')
  const token = process.env.WECHATY_TOKEN
  if (!token) fail('set WECHATY_TOKEN (clients send it as "authorization: Wechaty <token>")')
  const host = process.env.WECHATY_PUPPET_SERVER_HOST || '127.0.0.1'
  const port = envPort('WECHATY_PUPPET_SERVER_PORT', 8788)
  if (port === 0) fail('WECHATY_PUPPET_SERVER_PORT must not be 0')
  const noTls = process.env.WECHATY_PUPPET_SERVICE_NO_TLS === 'true'

  const puppet = await createPuppet(puppetName)
  replayScanOnStart(puppet)
  const server = new PuppetServer({
    endpoint: `${host}:${port}`,
    puppet,
    tls: { disable: noTls },
    token,
  })
  await server.start()

  let control = null
  let controlPort = null
  if (puppetName === MOCK_PUPPET) {
    control = http.createServer(createControlApi(puppet))
    await new Promise((resolve, reject) => {
      control.once('error', reject)
      control.listen(envPort('GATEWAY_CONTROL_PORT', 8789), '127.0.0.1', resolve)
    })
    controlPort = control.address().port
  }

  console.log('wechaty-gateway ready ' + JSON.stringify({
    control: controlPort === null ? null : `127.0.0.1:${controlPort}`,
    grpc: `${host}:${port}`,
    puppet: puppetName,
    tls: !noTls,
  }))

  let stopping = false
  const shutdown = async (signal) => {
    if (stopping) return
    stopping = true
    console.log(`wechaty-gateway: ${signal}, stopping`)
    const timer = setTimeout(() => process.exit(1), 5000)
    timer.unref()
    try {
      if (control) control.close()
      await server.stop()
      if (puppet.state?.active()) await puppet.stop()
    } catch (e) {
      console.error('wechaty-gateway: error while stopping:', e)
    }
    process.exit(0)
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch(e => {
  console.error('wechaty-gateway: fatal:', e)
  process.exit(1)
})
