Ò„X'¢'x!application/vnd.cfr.contract+cbor¡X \)·£ZI¦#î„
¼Ã£zOFß2}ìV¸©·ÉöX@DÃ®–ÙE0¿×.¬ê¨ÄWß5fv²x1Ó†Õ$l«1¢êVtFÍ¶£ĞÅÏßék |ŠWòı¿5OÖ