// The channel's typings: the named export, the member of the class, and every member's types.
import SharedMemory, { Channel, InPlaceMessage } from '@markusjx/shared_memory';

const sameClass: typeof Channel = SharedMemory.Channel;
const messageClass: typeof InPlaceMessage = Channel.InPlaceMessage;
const sameMessageClass: typeof InPlaceMessage = SharedMemory.InPlaceMessage;
const options: SharedMemory.ChannelOptions = { capacity: 1 << 16, create: 'if-missing', mode: 0o600 };
const channel: Channel = new sameClass('typed-channel', options);
const sent: boolean = channel.send('text', 100);
const sentBytes: boolean = channel.send(new Uint8Array(4));
const received: string | Buffer | undefined = channel.receive(0);
const inPlace: InPlaceMessage | undefined = channel.receiveInPlace(0);
if (inPlace) {
  const bytes: Buffer = inPlace.bytes;
  const isText: boolean = inPlace.isText;
  inPlace.release();
  void bytes, isText;
}
const facts: [string, number, boolean, boolean] = [channel.name, channel.capacity, channel.closed, channel.ended];

async function consume(signal: AbortSignal): Promise<void> {
  const ok: boolean = await channel.sendAsync(Buffer.from('x'), Infinity, signal);
  const next: string | Buffer | undefined = await channel.receiveAsync(10, signal);
  const held: InPlaceMessage | undefined = await channel.receiveInPlaceAsync(10, signal);
  held?.release();
  for await (const message of channel) {
    const each: string | Buffer = message;
    void each;
  }
  void ok, next;
}

channel.end();
channel.unlink();
channel.close();
channel[Symbol.dispose]();
void sent, sentBytes, received, facts, consume, messageClass, sameMessageClass;

// @ts-expect-error the options are required
new Channel('no-options');
// @ts-expect-error a number is not a message
channel.send(42);
