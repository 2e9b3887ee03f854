{
  "targets": [
    {
      "target_name": "nfq",
      "sources": ["native/nfq.c"],
      "libraries": ["-lnetfilter_queue"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    }
  ]
}
