{
  "targets": [
    {
      "target_name": "holdfast_native",
      "sources": ["read-directory.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
