-- wrk script: GET /obj/<random id> over limit's 10,000 rows
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/obj/id%07d", math.random(0, 9999)))
end
