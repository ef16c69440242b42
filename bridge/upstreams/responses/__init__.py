"""The Azure OpenAI Responses API upstream: body (`request`), stream (`stream`), exchange (`call`)."""
