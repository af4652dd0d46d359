/*
 * netns-dns-bind NETNS_PATH
 *
 * Binds the embedded DNS address 127.0.0.11:53 (UDP and TCP) inside a container's network namespace
 * and hands both sockets to berthd over the Node IPC channel it was started with (NODE_CHANNEL_FD),
 * then exits. It does what src/networks/dns-helper.js does, without starting a Node runtime: that cost
 * ~50 ms of CPU per container start (docs/networking.md "Embedded DNS").
 *
 * Node's IPC channel carries newline-terminated JSON; a handle travels as SCM_RIGHTS beside a message
 * {"cmd":"NODE_HANDLE","type":...,"msg":...} and the receiver answers {"cmd":"NODE_HANDLE_ACK"} before the
 * next handle may be sent. A failure is reported as the message {"error":"..."} and exit status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int channel = -1;

static void send_message(const char *json, int fd) {
  struct iovec iov = {.iov_base = (void *)json, .iov_len = strlen(json)};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  while (sendmsg(channel, &msg, 0) < 0) {
    if (errno != EINTR) exit(3);
  }
}

/* Reports `what: strerror(errno)` to the daemon and exits; the text needs no JSON escaping. */
static void fail(const char *what) {
  char json[256];
  snprintf(json, sizeof json, "{\"error\":\"%s: %s\"}\n", what, strerror(errno));
  send_message(json, -1);
  exit(1);
}

/* Waits for the receiver's NODE_HANDLE_ACK (the next line on the channel). */
static void await_ack(void) {
  char c;
  for (;;) {
    ssize_t n = read(channel, &c, 1);
    if (n == 1 && c == '\n') return;
    if (n == 0) exit(3);
    if (n < 0 && errno != EINTR) exit(3);
  }
}

int main(int argc, char **argv) {
  const char *fd_env = getenv("NODE_CHANNEL_FD");
  if (argc != 2 || !fd_env) {
    fprintf(stderr, "usage: NODE_CHANNEL_FD=n netns-dns-bind NETNS_PATH (started by berthd)\n");
    return 2;
  }
  channel = atoi(fd_env);

  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0) fail("open netns");
  if (setns(ns, CLONE_NEWNET) < 0) fail("setns");
  close(ns);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, "127.0.0.11", &addr.sin_addr);

  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (udp < 0) fail("udp socket");
  if (bind(udp, (struct sockaddr *)&addr, sizeof addr) < 0) fail("bind udp 127.0.0.11:53");

  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (tcp < 0) fail("tcp socket");
  int on = 1;
  setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(tcp, (struct sockaddr *)&addr, sizeof addr) < 0) fail("bind tcp 127.0.0.11:53");
  if (listen(tcp, 511) < 0) fail("listen tcp 127.0.0.11:53");

  send_message("{\"cmd\":\"NODE_HANDLE\",\"type\":\"dgram.Socket\",\"msg\":\"udp\",\"dgramType\":\"udp4\"}\n", udp);
  await_ack();
  send_message("{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":\"tcp\"}\n", tcp);
  await_ack();
  return 0;
}
