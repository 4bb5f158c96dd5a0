// SPDX-License-Identifier: MIT
// Types of the natsbridge Node.js package (bindings/node/lib/natsbridge.js).

export type PayloadType = 'text' | 'dictionary' | 'table' | 'arrowtable' | 'jsontable' | 'image'
  | 'audio' | 'video' | 'binary';

/** One payload to send: text a string, dictionary/jsontable any JSON value, others bytes. */
export interface Item { dataname: string; data: unknown; type: PayloadType; link?: boolean }

/** A received payload: text a string, dictionary an object, everything else a Buffer. */
export interface ReceivedPayload {
  dataname: string; data: string | object | Buffer | null; type: string; transport: 'direct' | 'link';
  size: number; encoding: string; metadata: Record<string, unknown>; url: string | null; path: string | null;
}

export interface EnvelopeFields {
  correlation_id: string; msg_id: string; timestamp: string; send_to: string; msg_purpose: string;
  sender_name: string; sender_id: string; receiver_name: string; receiver_id: string; reply_to: string;
  reply_to_msg_id: string; broker_url: string; metadata: Record<string, unknown>;
}

/** The envelope as sent; also destructures as the seed's `[env, json]`. Client.send's is lazy (parsed on the first field read). */
export interface SentEnvelope extends EnvelopeFields, Iterable<SentEnvelope | string> {
  payloads: Array<Record<string, unknown>>;
}
export interface ReceivedEnvelope extends EnvelopeFields { payloads: ReceivedPayload[] }

export interface ConnectOptions {
  natsUrl?: string; fileserverUrl?: string; sizeThreshold?: number; senderName?: string; senderId?: string;
  checksum?: boolean; uploader?: 'plik' | 'put'; linkStore?: string; allowOrigins?: string[];
  maxRetries?: number; baseDelay?: number; maxDelay?: number; downloadDeadline?: number; maxDownload?: number;
  downloadDir?: string; fetchLinks?: boolean; user?: string; password?: string; token?: string;
  nkeySeedFile?: string; credsFile?: string;
  /** A .creds file's user JWT and NKey seed ("SU...") as text, instead of credsFile. */
  credsJwt?: string; credsSeed?: string;
  tlsCaFile?: string; tlsCertFile?: string; tlsKeyFile?: string;
  tlsHostname?: string; tlsRequired?: boolean; connectionName?: string; connectTimeout?: number;
  allowReconnect?: boolean; maxReconnect?: number; reconnectWait?: number; sendAsap?: boolean;
  fileserverToken?: string; fileserverCaFile?: string; fileserverCertFile?: string; fileserverKeyFile?: string;
}

export interface SendOptions {
  correlationId?: string; msgId?: string; msgPurpose?: string; senderName?: string; receiverName?: string;
  receiverId?: string; replyTo?: string; replyToMsgId?: string; metadata?: Record<string, unknown>;
  link?: string[];
}

export function smartsend(subject: string, data: Item[], options?: ConnectOptions & SendOptions & { client?: Client }): Promise<SentEnvelope>;
export function smartreceive(msg: unknown, options?: ConnectOptions & { client?: Client }): Promise<ReceivedEnvelope>;
export const version: string;

export class Subscription implements AsyncIterableIterator<ReceivedEnvelope> {
  readonly subject: string;
  next(): Promise<IteratorResult<ReceivedEnvelope>>;
  return(): Promise<IteratorResult<ReceivedEnvelope>>;
  [Symbol.asyncIterator](): Subscription;
  close(): Promise<void>;
}

export interface Delivery { subject: string; streamSeq: number; delivered: number; pending: number }
export type Verdict = 'ack' | 'nak' | 'term' | 'nakNow' | void;

export class Consumer { close(): Promise<void> }

export class Client {
  static connect(options?: ConnectOptions): Promise<Client>;
  send(subject: string, data: Item[], options?: SendOptions): Promise<SentEnvelope>;
  receive(msg: unknown): Promise<ReceivedEnvelope>;
  subscribe(subject: string, opts?: { queue?: string; callback?: (env: ReceivedEnvelope, sub: Subscription) => unknown;
    onError?: (err: Error) => void } | ((env: ReceivedEnvelope, sub: Subscription) => unknown)): Subscription;
  request(subject: string, data: Item[], options?: SendOptions & { timeout?: number }): Promise<ReceivedEnvelope>;
  reply(request: ReceivedEnvelope, data: Item[], options?: SendOptions): Promise<SentEnvelope>;
  flush(timeout?: number): Promise<void>;
  streamEnsure(config: { name: string; subjects: string[]; storage?: 'file' | 'memory'; maxAge?: number;
    duplicateWindow?: number; replicas?: number }): Promise<boolean>;
  streamDelete(name: string): Promise<void>;
  jsPublish(subject: string, data: Item[], options?: SendOptions & { timeout?: number; retries?: number;
    expectStream?: string }): Promise<{ envelope: SentEnvelope; stream: string; seq: number; duplicate: boolean }>;
  consume(config: { stream?: string; subject: string; durable: string; batch?: number; ackWait?: number;
    maxDeliver?: number; nakDelay?: number; start?: 'all' | 'new' },
  handler: (env: ReceivedEnvelope, d: Delivery, consumer: Consumer) => Verdict | Promise<Verdict>,
  opts?: { onError?: (err: Error) => void }): Promise<Consumer>;
  objectPut(bucket: string, name: string, data: Uint8Array | string): Promise<void>;
  objectGet(bucket: string, name: string): Promise<Buffer>;
  objectDelete(bucket: string, name: string): Promise<void>;
  objectDeleteBucket(bucket: string): Promise<void>;
  close(): Promise<void>;
}
