Ò„X'¢'x!application/vnd.cfr.manifest+cbor¡X ş,ó«Læ¬]¶šÃRùËïCû3âRïõR&8‰öX@YÔÊƒhrÏC¸˜7
r|c»^Š]5÷¤j`z+}J3î.^e³Ë…2b!Ik“&}„®a"d<1´ …a