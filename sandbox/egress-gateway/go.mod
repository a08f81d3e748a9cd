module github.com/litellm/lap-on-aws/sandbox/egress-gateway

go 1.19
