module github.com/litellm/lap-on-aws/sandbox/vault/relay

go 1.19
