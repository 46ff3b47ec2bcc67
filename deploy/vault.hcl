# Single-node Vault with integrated Raft storage, for docker-compose.yml.
# The official image's entrypoint runs `vault server -config=/vault/config`.
storage "raft" {
  path    = "/vault/file"
  node_id = "vault-0"
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  # Plain HTTP inside the compose network only; put TLS here for anything real.
  tls_disable = true
}

api_addr      = "http://vault:8200"
cluster_addr  = "http://vault:8201"
disable_mlock = true
ui            = true
