"""`python -m cli`: flexrun's command line (`flexrun package build|upload|list|show|pin|unpin|rollback`)."""
