// js-tiktoken declares "./ranks/gpt2" only in package.json "exports", which this project's
// moduleResolution ("node") does not read; esbuild does, so only the type needs declaring here.
declare module "js-tiktoken/ranks/gpt2" {
  const ranks: import("js-tiktoken/lite").TiktokenBPE;
  export default ranks;
}
