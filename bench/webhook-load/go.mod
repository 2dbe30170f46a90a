module trustgate.io/bench/webhook-load

go 1.24
