/**
 * Run by the daemon inside a container's network namespace (`ip netns exec <ns> node dns-helper.js`):
 * binds the embedded DNS address 127.0.0.11:53 there, over UDP and TCP, hands both sockets to the
 * daemon through the IPC channel, and exits. A socket belongs to the namespace it was made in, so the
 * daemon then serves that container's queries from its own process, with no rule inside the container.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const ADDRESS = '127.0.0.11';
const PORT = 53;

function fail(err: Error): void {
  process.send?.({ error: err.message }, undefined, {}, () => process.exit(1));
}

if (!process.send) {
  process.stderr.write('dns-helper: must be started with an IPC channel\n');
  process.exit(2);
}

const udp = dgram.createSocket('udp4');
udp.once('error', fail);
udp.bind({ address: ADDRESS, port: PORT, exclusive: true }, () => {
  const tcp = net.createServer();
  tcp.once('error', fail);
  tcp.listen({ host: ADDRESS, port: PORT, exclusive: true }, () => {
    process.send!('udp', udp, {}, () => {
      process.send!('tcp', tcp, {}, () => process.exit(0));
    });
  });
});
