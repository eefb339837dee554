// Cloud Code the benchmark loads into ferrobase (--cloud) and Parse Server (cloud option) alike:
// the trivial hooks bench/run.sh measures. Classes other than BenchHooked have no hooks, so the
// other scenarios also show what --cloud costs a class without any (nothing, by design).
Parse.Cloud.define('benchHello', () => 'hello');
Parse.Cloud.define('benchQuery', async () => {
  const o = await new Parse.Query('BenchItem').equalTo('n', 5).first({ useMasterKey: true });
  return o ? o.get('n') : null;
});
Parse.Cloud.beforeSave('BenchHooked', () => {});
Parse.Cloud.afterFind('BenchHooked', req => req.objects);
