/*
 * The C reference NFQUEUE consumer of bench/gateway: libnetfilter_queue's mnl API, accepting
 * everything, the way a careful C program would, so the JavaScript consumers have a yardstick
 * measured in the same run. The bench compiles it at run time (cc -O2 ... -lnetfilter_queue -lmnl).
 *
 *   c-consumer --log FILE [--queue 0] [--copy-range 9216] [--maxlen 16384] [--buffer 67108864]
 *              [--max-batch 256] [--fail-open] [--gso]
 *
 * Per wake-up it blocks in one recv, then drains the socket with non-blocking reads until
 * EAGAIN (or --max-batch packets), and answers the whole batch with one
 * NFQNL_MSG_VERDICT_BATCH (NF_ACCEPT for every id up to the highest one read), before blocking
 * again, so no packet waits for a verdict while the program sleeps. The kernel hands packets
 * out in id order on one socket, so "every id up to the highest" is exactly the batch.
 *
 * Writes {"ts","event":"ready"} to the log once the queue is bound and configured. SIGUSR1 prints
 * its counters as one JSON line on stdout; SIGTERM or SIGINT prints them and exits.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

struct counters {
  unsigned long long packets;   /* packets read and answered */
  unsigned long long bytes;     /* payload bytes handed over (at most the copy range each) */
  unsigned long long batches;   /* verdict-batch messages sent (one per wake-up with packets) */
  unsigned long long wakeups;   /* blocking reads that returned */
  unsigned long long enobufs;   /* reads that failed with ENOBUFS: the socket buffer overflowed */
  unsigned long long errors;    /* netlink error messages and failed verdict sends */
  unsigned long long max_batch; /* the most packets answered by one verdict */
};

static struct counters counters;
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t report_requested;

static void on_signal(int signal) {
  if (signal == SIGUSR1) report_requested = 1;
  else stop_requested = 1;
}

static void report(void) {
  printf("{\"packets\":%llu,\"bytes\":%llu,\"batches\":%llu,\"wakeups\":%llu,\"enobufs\":%llu,\"errors\":%llu,\"maxBatch\":%llu}\n",
         counters.packets, counters.bytes, counters.batches, counters.wakeups, counters.enobufs, counters.errors, counters.max_batch);
  fflush(stdout);
}

static void fail(const char *what) {
  fprintf(stderr, "c-consumer: %s: %s\n", what, strerror(errno));
  exit(1);
}

struct batch {
  uint32_t last_id;
  unsigned long long count;
};

static int on_packet(const struct nlmsghdr *nlh, void *data) {
  struct batch *batch = data;
  struct nlattr *attr[NFQA_MAX + 1] = {0};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
    counters.errors++;
    return MNL_CB_OK;
  }
  const struct nfqnl_msg_packet_hdr *header = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  batch->last_id = ntohl(header->packet_id);
  batch->count++;
  if (attr[NFQA_PAYLOAD] != NULL) counters.bytes += mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
  return MNL_CB_OK;
}

/* One configuration message to the queue, with an ACK awaited so a refusal is an error here. */
static void configure(struct mnl_socket *nl, char *buf, struct nlmsghdr *nlh, const char *what) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) fail(what);
  ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
  if (n < 0 || mnl_cb_run(buf, n, 0, mnl_socket_get_portid(nl), NULL, NULL) < 0) fail(what);
}

static void send_verdict(struct mnl_socket *nl, char *out, uint32_t queue, const struct batch *batch) {
  struct nlmsghdr *nlh = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT_BATCH, queue);
  nfq_nlmsg_verdict_put(nlh, (int)batch->last_id, NF_ACCEPT);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) counters.errors++;
  counters.batches++;
  counters.packets += batch->count;
  if (batch->count > counters.max_batch) counters.max_batch = batch->count;
}

int main(int argc, char **argv) {
  uint32_t queue = 0, copy_range = 9216, maxlen = 16384, max_batch = 256, flags = 0;
  int buffer = 64 * 1024 * 1024;
  const char *log_file = NULL;
  static const struct option options[] = {
      {"queue", required_argument, NULL, 'q'},   {"copy-range", required_argument, NULL, 'c'},
      {"maxlen", required_argument, NULL, 'm'},  {"buffer", required_argument, NULL, 'b'},
      {"max-batch", required_argument, NULL, 'B'}, {"log", required_argument, NULL, 'l'},
      {"fail-open", no_argument, NULL, 'f'},     {"gso", no_argument, NULL, 'g'},
      {NULL, 0, NULL, 0}};
  for (int option; (option = getopt_long(argc, argv, "", options, NULL)) != -1;) {
    switch (option) {
      case 'q': queue = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'c': copy_range = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'm': maxlen = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'b': buffer = (int)strtol(optarg, NULL, 0); break;
      case 'B': max_batch = (uint32_t)strtoul(optarg, NULL, 0); break;
      case 'l': log_file = optarg; break;
      case 'f': flags |= NFQA_CFG_F_FAIL_OPEN; break;
      case 'g': flags |= NFQA_CFG_F_GSO; break;
      default: fprintf(stderr, "usage: c-consumer --log FILE [--queue N] [--copy-range N] [--maxlen N] [--buffer N] [--max-batch N] [--fail-open] [--gso]\n"); return 2;
    }
  }

  /* No SA_RESTART: a signal interrupts the blocking read, so the loop sees it at once. */
  struct sigaction action = {0};
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGUSR1, &action, NULL);

  struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == NULL) fail("mnl_socket_open");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) fail("mnl_socket_bind");
  int fd = mnl_socket_get_fd(nl);
  /* The same socket buffer as the JavaScript consumers (RCVBUFFORCE: root may pass rmem_max). */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0) fail("SO_RCVBUFFORCE");

  /* Packets of up to 64 KiB (GSO) plus headers; one recv reads one netlink datagram. */
  size_t size = 0xffff + (MNL_SOCKET_BUFFER_SIZE / 2);
  char *buf = malloc(size);
  char out[MNL_SOCKET_BUFFER_SIZE];
  if (buf == NULL) fail("malloc");

  struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  configure(nl, buf, nlh, "bind the queue (taken by another program? not root?)");
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)copy_range);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
  configure(nl, buf, nlh, "configure the queue (copy range, maxlen, flags)");

  if (log_file != NULL) {
    FILE *log = fopen(log_file, "a");
    if (log == NULL) fail(log_file);
    struct timeval now;
    gettimeofday(&now, NULL);
    fprintf(log, "{\"ts\":%lld,\"event\":\"ready\",\"queue\":%u,\"copyRange\":%u,\"maxlen\":%u,\"maxBatch\":%u,\"flags\":%u}\n",
            (long long)now.tv_sec * 1000 + now.tv_usec / 1000, queue, copy_range, maxlen, max_batch, flags);
    fclose(log);
  }

  unsigned int portid = mnl_socket_get_portid(nl);
  while (!stop_requested) {
    if (report_requested) {
      report_requested = 0;
      report();
    }
    struct batch batch = {0, 0};
    int flags_now = 0; /* the first read of a wake-up blocks; the rest drain */
    for (;;) {
      ssize_t n = recv(fd, buf, size, flags_now);
      if (n < 0) {
        if (errno == ENOBUFS) {
          counters.enobufs++;
          continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        fail("recv");
      }
      if (flags_now == 0) counters.wakeups++;
      flags_now = MSG_DONTWAIT;
      if (mnl_cb_run(buf, (size_t)n, 0, portid, on_packet, &batch) < 0) counters.errors++;
      if (batch.count >= max_batch) break;
    }
    if (batch.count > 0) send_verdict(nl, out, queue, &batch);
  }
  report();
  mnl_socket_close(nl);
  return 0;
}
