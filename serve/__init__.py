"""Ray Serve HTTP endpoint for generators exported by `ganbench export`.

serve.sampler.OnnxSampler is the model side (no HTTP), serve.app the routes and the Serve
application (`serve.app:app_builder`), serve.settings how it is configured."""
